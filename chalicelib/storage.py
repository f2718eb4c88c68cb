"""S3 adapter: presigned POST/GET, and the reads and writes the pipeline makes.

Takes its boto3 client in __init__ and returns domain values: a missing
object is None, a changed one is SourceChangedError. Every other ClientError
(throttling, 5xx, access denied) propagates so Lambda retries the event.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.config import Config
from botocore.exceptions import ClientError

from chalicelib.errors import FileTooLargeError, SourceChangedError
from chalicelib.presign import PresignedGetSigner

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import TagTypeDef

# Renditions are rewritten only when their source is re-uploaded; a day of
# browser/CDN caching is safe, a year for shared caches that revalidate.
CACHE_CONTROL = "public, max-age=86400, s-maxage=31536000"
# The tag filter of the input bucket's expire-failed-sources rule (infra/).
FAILED_SOURCE_TAG: "TagTypeDef" = {"Key": "imgpipe-status", "Value": "failed"}
_MISSING = ("404", "NoSuchKey", "NotFound")
# SigV4 and a region are not enough: botocore still names the global endpoint
# (BUCKET.s3.amazonaws.com) outside us-east-1, which a new bucket answers with a
# 307 that a browser's CORS upload cannot follow. "virtual" names the regional
# one (BUCKET.s3.REGION.amazonaws.com); an IP endpoint (make run) stays path-style.
S3_CLIENT_CONFIG = Config(signature_version="s3v4", s3={"addressing_style": "virtual"})


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    content_type: str


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _unquote_etag(etag: str) -> str:
    return etag.strip('"')


class S3Storage:
    """Uploads land in `input_bucket`; renditions go to `output_bucket`."""

    def __init__(self, client: "S3Client", input_bucket: str, output_bucket: str) -> None:
        self._s3 = client
        self.input_bucket = input_bucket
        self.output_bucket = output_bucket
        self._downloads: PresignedGetSigner | None = None

    def presign_upload(self, key: str, content_type: str, max_bytes: int, ttl: int) -> dict:
        """A browser-ready POST form that can write exactly `key`, once, for `ttl` s."""
        post = self._s3.generate_presigned_post(
            Bucket=self.input_bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[
                {"Content-Type": content_type},
                ["content-length-range", 1, max_bytes],
            ],
            ExpiresIn=ttl,
        )
        return {"url": post["url"], "fields": post["fields"]}

    def presign_download(self, key: str, content_type: str, ttl: int) -> str:
        """The same URL as botocore's generate_presigned_url, at a fraction of its CPU (presign.py)."""
        if self._downloads is None:  # built on first use: it asks botocore for the URL's shape
            self._downloads = PresignedGetSigner(self._s3, self.output_bucket)
        return self._downloads.url(key, content_type, ttl)

    def source_info(self, key: str) -> ObjectInfo | None:
        """HEAD the uploaded object; None when it no longer exists."""
        try:
            head = self._s3.head_object(Bucket=self.input_bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in _MISSING:
                return None
            raise
        return ObjectInfo(
            key=key,
            size=int(head["ContentLength"]),
            etag=_unquote_etag(head["ETag"]),
            content_type=head.get("ContentType", ""),
        )

    def read_source(self, info: ObjectInfo, limit: int) -> bytes:
        """The bytes of exactly the version `info` describes, at most `limit` of them."""
        try:
            response = self._s3.get_object(
                Bucket=self.input_bucket, Key=info.key, IfMatch=f'"{info.etag}"'
            )
        except ClientError as exc:
            if _error_code(exc) in _MISSING + ("PreconditionFailed", "412"):
                raise SourceChangedError(f"{info.key} changed while being processed") from exc
            raise
        with response["Body"] as body:
            data = body.read(limit + 1)
        if len(data) > limit:
            raise FileTooLargeError(f"The file is larger than {limit} bytes.")
        return data

    def write_rendition(self, key: str, data: bytes, content_type: str) -> None:
        self._s3.put_object(
            Bucket=self.output_bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            CacheControl=CACHE_CONTROL,
        )

    # On-demand variants (chalicelib/ondemand.py): read renditions, write each variant once.

    def output_exists(self, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self.output_bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in _MISSING:
                return False
            raise
        return True

    def read_output(self, key: str) -> bytes | None:
        """A stored rendition's bytes; None when it is gone (deleted, or replaced meanwhile)."""
        try:
            response = self._s3.get_object(Bucket=self.output_bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in _MISSING:
                return None
            raise
        with response["Body"] as body:
            return body.read()

    def write_new_output(self, key: str, data: bytes, content_type: str) -> bool:
        """Store `key` unless it exists (S3's conditional write, If-None-Match: *): the
        first of two concurrent writers stores it, the other gets False and stores nothing."""
        try:
            self._s3.put_object(Bucket=self.output_bucket, Key=key, Body=data, ContentType=content_type,
                                CacheControl=CACHE_CONTROL, IfNoneMatch="*")
        except ClientError as exc:
            # 409 ConditionalRequestConflict: another conditional write to the key is in flight.
            if _error_code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                return False
            raise
        return True

    def delete_output_prefix(self, prefix: str) -> list[str]:
        """Every output object under `prefix` (an image's variants); the keys there were."""
        keys: list[str] = []
        token = ""
        while True:
            page = (self._s3.list_objects_v2(Bucket=self.output_bucket, Prefix=prefix, ContinuationToken=token)
                    if token else self._s3.list_objects_v2(Bucket=self.output_bucket, Prefix=prefix))
            keys += [item["Key"] for item in page.get("Contents", [])]
            token = page.get("NextContinuationToken", "") if page.get("IsTruncated") else ""
            if not token:
                break
        self.delete_renditions(keys)
        return keys

    def tag_failed_source(self, key: str) -> None:
        """Mark an upload that ended FAILED; the input bucket's lifecycle rule expires it."""
        self._s3.put_object_tagging(
            Bucket=self.input_bucket, Key=key, Tagging={"TagSet": [FAILED_SOURCE_TAG.copy()]}
        )

    def delete_source(self, key: str) -> None:
        self._s3.delete_object(Bucket=self.input_bucket, Key=key)

    def delete_renditions(self, keys: list[str]) -> None:
        """Any number of keys, none included; a key listed twice (renditions
        that share one object) is deleted once."""
        keys = list(dict.fromkeys(keys))
        for start in range(0, len(keys), 1000):  # DeleteObjects takes 1000 keys a call
            batch = keys[start : start + 1000]
            self._s3.delete_objects(
                Bucket=self.output_bucket,
                Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
            )

    def check(self) -> dict[str, str]:
        """Health of both buckets: "ok" or the error code S3 returned."""
        result = {}
        for role, bucket in (("input_bucket", self.input_bucket), ("output_bucket", self.output_bucket)):
            try:
                self._s3.head_bucket(Bucket=bucket)
                result[role] = "ok"
            except ClientError as exc:
                result[role] = _error_code(exc) or "error"
        return result
