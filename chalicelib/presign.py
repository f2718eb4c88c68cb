"""Presigned GET URLs signed here instead of by botocore, byte for byte the same.

A `GET /images` page presigns up to 7 URLs per record; botocore spends ~0.7 ms
of CPU on each (a request object, event hooks, endpoint rules, four HMACs for
the signing key). This signer asks botocore once for the shape of a URL
(endpoint, addressing style, region), caches the derived SigV4 key per
day, and builds each canonical request directly: the URLs are byte-identical
to `generate_presigned_url` for the same second (tests/test_urls.py).
"""

import hashlib
import hmac
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote, urlsplit

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_ALGORITHM = "AWS4-HMAC-SHA256"
_PROBE_KEY = "imgpipe-probe"
_SAFE = "-_.~"  # SigV4's unreserved characters; everything else is %-encoded


def _encode(value: str) -> str:
    return quote(value, safe=_SAFE)


class PresignedGetSigner:
    """Presigned `GetObject` URLs for one bucket, with a `response-content-type`."""

    def __init__(self, client: "S3Client", bucket: str) -> None:
        self._client = client
        self._bucket = bucket
        probe = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": _PROBE_KEY})
        parts = urlsplit(probe)
        query = parse_qs(parts.query)
        # Anything but a plain SigV4 query URL (another signature version, S3
        # Express sessions) stays with botocore.
        self._fast = query.get("X-Amz-Algorithm") == [_ALGORITHM] and parts.path.endswith("/" + _PROBE_KEY)
        if self._fast:
            self._prefix = f"{parts.scheme}://{parts.netloc}"
            self._path_prefix = parts.path[: -len(_PROBE_KEY)]  # "/" or "/bucket/"
            self._region = query["X-Amz-Credential"][0].split("/")[2]
            host, port = parts.hostname or "", parts.port
            default_port = {"http": 80, "https": 443}.get(parts.scheme)
            self._host = host if port in (None, default_port) else f"{host}:{port}"
        self._signing_key: tuple[tuple[str, str], bytes] | None = None

    def url(self, key: str, content_type: str, ttl: int, now: float | None = None) -> str:
        """What botocore's generate_presigned_url gives for this key, at `now`."""
        if not self._fast:
            return self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self._bucket, "Key": key, "ResponseContentType": content_type},
                ExpiresIn=ttl,
            )
        # botocore's BaseClient._get_credentials: the stubs leave private methods out.
        credentials = self._client._get_credentials().get_frozen_credentials()  # type: ignore[attr-defined]
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
        scope = f"{stamp[:8]}/{self._region}/s3/aws4_request"
        params = {
            "X-Amz-Algorithm": _ALGORITHM,
            "X-Amz-Credential": f"{credentials.access_key}/{scope}",
            "X-Amz-Date": stamp,
            "X-Amz-Expires": str(ttl),
            "X-Amz-SignedHeaders": "host",
        }
        if credentials.token is not None:
            params["X-Amz-Security-Token"] = credentials.token
        encoded = [("response-content-type", _encode(content_type))]
        encoded += [(name, _encode(value)) for name, value in params.items()]
        path = self._path_prefix + quote(key, safe="/~")
        canonical = "\n".join((
            "GET", path, "&".join(f"{k}={v}" for k, v in sorted(encoded)),
            f"host:{self._host}\n", "host", "UNSIGNED-PAYLOAD",
        ))
        to_sign = "\n".join((_ALGORITHM, stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()))
        signature = hmac.new(self._key(credentials.secret_key, stamp[:8]), to_sign.encode(),
                             hashlib.sha256).hexdigest()
        query = "&".join(f"{k}={v}" for k, v in encoded)
        return f"{self._prefix}{path}?{query}&X-Amz-Signature={signature}"

    def _key(self, secret: str, day: str) -> bytes:
        """The derived SigV4 key: four HMACs, the same all day for one secret."""
        cached = self._signing_key
        if cached is None or cached[0] != (secret, day):
            key = ("AWS4" + secret).encode()
            for part in (day, self._region, "s3", "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._signing_key = cached = ((secret, day), key)
        return cached[1]
