"""Sources of FAILED uploads are tagged for the input bucket's expire-failed-sources rule."""

from botocore.exceptions import ClientError

from chalicelib.storage import FAILED_SOURCE_TAG, S3Storage
from tests.conftest import TEST_ENV, invoke_handler
from tests.images import jpeg


def tags(aws, key: str) -> list[dict]:
    return aws.s3.get_object_tagging(Bucket=TEST_ENV["INPUT_BUCKET"], Key=key)["TagSet"]


def resize(client, key: str) -> None:
    invoke_handler(client, client.events.generate_s3_event(bucket=TEST_ENV["INPUT_BUCKET"], key=key))


def status(client, key: str) -> dict:
    return client.http.get(f"/images?key={key}").json_body["items"][0]


def test_a_failed_upload_is_tagged_and_a_complete_one_is_not(aws, client):
    aws.put("broken.jpg", b"not an image")
    aws.put("cat.jpg", jpeg())
    resize(client, "broken.jpg")
    resize(client, "cat.jpg")
    assert status(client, "broken.jpg")["status"] == "FAILED"
    assert status(client, "cat.jpg")["status"] == "COMPLETE"
    assert tags(aws, "broken.jpg") == [FAILED_SOURCE_TAG]
    assert tags(aws, "cat.jpg") == []


def test_a_tagging_fault_only_reaches_the_log(aws, client, monkeypatch):
    def denied(self, key: str) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "PutObjectTagging")

    monkeypatch.setattr(S3Storage, "tag_failed_source", denied)
    aws.put("broken.jpg", b"not an image")
    resize(client, "broken.jpg")  # no exception: Lambda must not retry a finished image
    record = status(client, "broken.jpg")
    assert record["status"] == "FAILED"
    assert record["error"]["code"] != "internal_error"
    assert tags(aws, "broken.jpg") == []
