"""The local stack refuses the form POSTs S3 refuses: botocore's own presigned POSTs, and abuses of them."""

import base64
import io
import json
import re
import time
import uuid
from datetime import datetime

import boto3
import pytest
import requests
from botocore.config import Config
from werkzeug.test import Client

from imgpipe.postpolicy import PostPolicyCheck
from imgpipe.stackprocess import free_port

BUCKET = "policy-test-input"
KEY = "uploads/0123456789abcdef0123456789abcdef/photo.jpg"
NOW = time.time()
BODY = b"\xff\xd8" + b"x" * 98  # 100 bytes; the check never decodes it


def presigned(key: str = KEY, max_bytes: int = 1000, secret: str = "local", ttl: int = 900) -> dict:
    """What chalicelib.storage.presign_upload asks botocore for, signed with `secret`."""
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
                      aws_access_key_id="local", aws_secret_access_key=secret,
                      config=Config(signature_version="s3v4"))
    post = s3.generate_presigned_post(
        Bucket=BUCKET, Key=key, Fields={"Content-Type": "image/jpeg"},
        Conditions=[{"Content-Type": "image/jpeg"}, ["content-length-range", 1, max_bytes]], ExpiresIn=ttl)
    return post["fields"]


class Stored:
    """Stands for moto: records what reached it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, environ, start_response):
        self.calls.append(environ["wsgi.input"].read().decode("latin-1"))
        start_response("204 No Content", [])
        return [b""]


def post(fields: dict, body: bytes = BODY, clock: float = NOW,
         bucket: str = BUCKET) -> tuple[int, str, Stored]:
    backend = Stored()
    app = PostPolicyCheck(backend, {"local": "local"}, clock=lambda: clock)
    data = {**fields, "file": (io.BytesIO(body), "photo.jpg", "image/jpeg")}
    response = Client(app).post(f"/{bucket}", data=data)
    return response.status_code, response.get_data(as_text=True), backend


def error(text: str) -> tuple[str, str]:
    return re.search(r"<Code>(.*)</Code>", text)[1], re.search(r"<Message>(.*)</Message>", text)[1]


def test_botocore_presigned_post_is_accepted_and_passed_on_whole():
    status, _, backend = post(presigned())
    assert status == 204
    (sent,) = backend.calls
    assert KEY in sent and BODY.decode("latin-1") in sent  # moto gets the form unchanged


@pytest.mark.parametrize("field, value, failed", [
    ("key", "evil/overwrite.jpg", f'["eq", "$key", "{KEY}"]'),
    ("key", "processed-photo.jpg", f'["eq", "$key", "{KEY}"]'),
    ("key", "uploads/ffffffffffffffffffffffffffffffff/other user.jpg", f'["eq", "$key", "{KEY}"]'),
    ("Content-Type", "text/html", '["eq", "$Content-Type", "image/jpeg"]'),
])
def test_a_changed_field_fails_its_condition(field, value, failed):
    status, text, backend = post({**presigned(), field: value})
    assert status == 403
    assert error(text) == ("AccessDenied", f"Invalid according to Policy: Policy Condition failed: {failed}")
    assert backend.calls == []


def test_another_bucket_fails_the_bucket_condition():
    status, text, backend = post(presigned(), bucket="someone-elses-bucket")
    assert status == 403
    assert error(text)[1] == ("Invalid according to Policy: Policy Condition failed: "
                              f'["eq", "$bucket", "{BUCKET}"]')
    assert backend.calls == []


def test_policy_and_signature_removed_is_an_anonymous_write():
    fields = {k: v for k, v in presigned().items() if k not in ("policy", "x-amz-signature")}
    status, text, backend = post(fields)
    assert (status, error(text)) == (403, ("AccessDenied", "Access Denied"))
    assert backend.calls == []


@pytest.mark.parametrize("change", ["other secret", "other policy", "no signature"])
def test_signature_must_match_the_policy(change):
    fields = presigned()
    if change == "other secret":
        fields = presigned(secret="not-the-secret")
    elif change == "other policy":  # a wider policy, signature kept
        policy = json.loads(base64.b64decode(fields["policy"]))
        kept = [c for c in policy["conditions"] if "key" not in c]
        policy["conditions"] = kept + [["starts-with", "$key", ""]]
        fields["policy"] = base64.b64encode(json.dumps(policy).encode()).decode()
    else:
        del fields["x-amz-signature"]
    status, text, backend = post({**fields, "key": "evil/x.jpg"} if change == "other policy" else fields)
    code, message = error(text)
    if change == "no signature":
        assert (status, code) == (400, "InvalidArgument") and "x-amz-signature" in message
    else:
        assert (status, code) == (403, "SignatureDoesNotMatch")
        assert message.startswith("The request signature we calculated does not match")
    assert backend.calls == []


def test_expired_policy_is_refused():
    fields = presigned(ttl=60)
    expiration = json.loads(base64.b64decode(fields["policy"]))["expiration"]
    expires = datetime.fromisoformat(expiration).timestamp()
    assert post(fields, clock=expires - 1)[0] == 204
    status, text, backend = post(fields, clock=expires + 1)
    assert (status, error(text)) == (403, ("AccessDenied", "Invalid according to Policy: Policy expired."))
    assert backend.calls == []


@pytest.mark.parametrize("size, code, limit", [(0, "EntityTooSmall", "<MinSizeAllowed>1<"),
                                               (1001, "EntityTooLarge", "<MaxSizeAllowed>1000<")])
def test_body_outside_content_length_range(size, code, limit):
    status, text, backend = post(presigned(max_bytes=1000), body=b"x" * size)
    assert (status, error(text)[0]) == (400, code)
    assert f"<ProposedSize>{size}<" in text and limit in text
    assert backend.calls == []


def test_fields_without_a_condition_are_refused():
    status, text, backend = post({**presigned(), "x-amz-meta-owner": "mallory", "acl": "public-read"})
    assert status == 403
    message = "Invalid according to Policy: Extra input fields: x-amz-meta-owner, acl"
    assert error(text) == ("AccessDenied", message)
    assert post({**presigned(), "x-ignore-note": "free"})[0] == 204  # S3 ignores x-ignore-*
    assert backend.calls == []


def test_field_names_ignore_case_as_in_s3():
    fields = presigned()
    fields["content-type"] = fields.pop("Content-Type")
    assert post(fields)[0] == 204


def test_a_form_without_a_file_is_refused():
    backend = Stored()
    app = PostPolicyCheck(backend, {"local": "local"}, clock=lambda: NOW)
    response = Client(app).post(f"/{BUCKET}", data=presigned(), content_type="multipart/form-data")
    assert (response.status_code, error(response.get_data(as_text=True))[0]) == (400, "InvalidArgument")
    assert backend.calls == []


@pytest.fixture(scope="module")
def emulator():
    """The local stack's emulator in this process: the check really stands in front of moto."""
    from imgpipe.emulator import AwsEmulator

    port = free_port()
    aws = AwsEmulator("127.0.0.1", port, {"local": "local"})
    aws.start()
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
                      aws_access_key_id="local", aws_secret_access_key="local",
                      config=Config(signature_version="s3v4"))
    s3.create_bucket(Bucket=BUCKET)
    yield s3
    aws.stop()


def test_refused_posts_store_nothing_in_moto(emulator):
    s3 = emulator
    key = f"uploads/{uuid.uuid4().hex}/photo.jpg"  # fresh on every run: the emulator lives for the module
    post_form = s3.generate_presigned_post(
        Bucket=BUCKET, Key=key, Fields={"Content-Type": "image/jpeg"},
        Conditions=[{"Content-Type": "image/jpeg"}, ["content-length-range", 1, 1000]], ExpiresIn=60)

    def send(fields: dict) -> requests.Response:
        return requests.post(post_form["url"], data=fields, timeout=10,
                             files={"file": ("photo.jpg", BODY, "image/jpeg")})

    def stored() -> list[str]:
        return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]

    before = stored()
    for attack in ({"key": "evil/overwrite.jpg"}, {"Content-Type": "text/html"}, {"policy": ""}):
        refused = send({**post_form["fields"], **attack})
        assert refused.status_code in (400, 403) and "<Code>" in refused.text, attack
        assert refused.headers["Content-Type"] == "application/xml"
    assert stored() == before
    assert send(post_form["fields"]).status_code == 204
    assert sorted(stored()) == sorted(before + [key])
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == BODY
