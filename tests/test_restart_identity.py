"""A restart of the local stack keeps each object's ETag and LastModified.

A multipart upload's ETag (`…-2`) is not the MD5 a plain put computes: if the
restore made a new one, the pipeline would see new bytes, process the image
again and notify a second time.
"""

import time

import requests

from imgpipe.stackprocess import StackProcess
from tests import images
from tests.test_localstack import record_for_key

INPUT = "imgpipe-local-input"
KEY = "camera/multi part.jpg"


def multipart_upload(stack: StackProcess) -> None:
    s3 = stack.client("s3")
    body = images.jpeg(1200, 900) + b"\0" * (6 * 1024 * 1024)  # bytes after EOI are ignored
    upload = s3.create_multipart_upload(Bucket=INPUT, Key=KEY, ContentType="image/jpeg")
    parts = []
    for number, chunk in enumerate((body[: 5 * 1024 * 1024], body[5 * 1024 * 1024 :]), start=1):
        etag = s3.upload_part(Bucket=INPUT, Key=KEY, UploadId=upload["UploadId"], PartNumber=number,
                              Body=chunk)["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    s3.complete_multipart_upload(Bucket=INPUT, Key=KEY, UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": parts})


def identity(stack: StackProcess, bucket: str, key: str) -> tuple[str, object]:
    head = stack.client("s3").head_object(Bucket=bucket, Key=key)
    return head["ETag"], head["LastModified"]


def test_a_restart_keeps_multipart_etags_and_does_not_process_again(tmp_path):
    state = tmp_path / "state"
    with StackProcess(state) as stack:
        multipart_upload(stack)
        record = record_for_key(stack, KEY)
        assert record["status"] == "COMPLETE" and record["source"]["etag"].endswith("-2")
        before = identity(stack, INPUT, KEY)
        default = next(r["key"] for r in record["renditions"] if r["name"] == "default")
        rendition = identity(stack, "imgpipe-local-output", default)
    processed = stack.log().count("image processed")
    assert processed == 1

    with StackProcess(state) as again:
        assert identity(again, INPUT, KEY) == before
        assert identity(again, "imgpipe-local-output", default) == rendition
        # A restart re-puts an unfinished upload before its banner; give its event time to be processed.
        time.sleep(3)
        after = requests.get(f"{again.api}/images/{record['image_id']}", timeout=10).json()
        assert after["updated_at"] == record["updated_at"] and after["source"]["etag"] == before[0].strip('"')
    assert again.log().count("image processed") == processed  # the same log: nothing processed again
