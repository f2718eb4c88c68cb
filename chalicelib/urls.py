"""Rendition URLs: CDN URLs when a CDN fronts the output bucket, else presigned GETs.

With CDN_DOMAIN set, a rendition's URL is `https://{CDN_DOMAIN}/{key}?v={version}`:
no signing at all, and `v` (part of the CDN's cache key) changes whenever the
object's bytes do, so a re-upload is never served stale from a cache. Without
it, each URL is a presigned GET signed here instead of by botocore.

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
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

from chalicelib.renditions import CONTENT_TYPES, DEFAULT_NAME, FIT

if TYPE_CHECKING:  # storage.py imports this module
    from chalicelib.config import Settings
    from chalicelib.storage import S3Storage

_ALGORITHM = "AWS4-HMAC-SHA256"
_PROBE_KEY = "imgpipe-probe"
_SAFE = "-_.~"  # SigV4's unreserved characters; everything else is %-encoded


def _encode(value: str) -> str:
    return quote(value, safe=_SAFE)


class PresignedGetSigner:
    """Presigned `GetObject` URLs for one bucket, with a `response-content-type`."""

    def __init__(self, client: Any, bucket: str) -> None:
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
        credentials = self._client._get_credentials().get_frozen_credentials()
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


def cdn_url(domain: str, key: str, version: str) -> str:
    """`https://{domain}/{key}?v={version}`: the key %-encoded as S3 reads a path (`/` kept)."""
    return f"https://{domain}/{quote(key, safe='/')}?v={quote(version, safe='')}"


def _version(rendition: dict, record: dict) -> str:
    """The rendition's content hash; records written before it existed use the
    source's ETag (a re-upload changes it), or, while a reprocess has cleared
    that, a hash of the record's last change."""
    etag = record.get("source", {}).get("etag")
    fallback = etag or hashlib.md5(str(record.get("updated_at", "")).encode()).hexdigest()[:16]
    return str(rendition.get("version") or fallback)


def srcset(renditions: list[dict], fit_names: set[str]) -> dict[str, str]:
    """Per format, `"url 320w, url 1024w"` of the fit renditions, narrowest first.

    Cover crops are left out (a srcset offers one picture at several widths),
    and so is a second rendition of the same width (a small source is never
    upscaled, so `medium` and `large` can be the same picture).
    """
    by_format: dict[str, dict[int, str]] = {}
    for rendition in renditions:
        if rendition["name"] in fit_names and "url" in rendition:
            widths = by_format.setdefault(rendition["format"], {})
            widths.setdefault(int(rendition["width"]), rendition["url"])
    return {fmt: ", ".join(f"{widths[w]} {w}w" for w in sorted(widths)) for fmt, widths in by_format.items()}


def with_urls(record: dict, settings: "Settings", storage: "S3Storage") -> dict:
    """The record with a `url` on each rendition and a `srcset` per format
    (GET /images and GET /images/{id} alike)."""
    if "renditions" not in record:
        return record
    if settings.cdn_domain:
        renditions = [{**r, "url": cdn_url(settings.cdn_domain, r["key"], _version(r, record))}
                      for r in record["renditions"]]
    else:
        ttl = settings.download_url_ttl
        renditions = [{**r, "url": storage.presign_download(r["key"], CONTENT_TYPES[r["format"]], ttl)}
                      for r in record["renditions"]]
    fit_names = {s.name for s in settings.renditions if s.mode == FIT} | {DEFAULT_NAME}
    return {**record, "renditions": renditions, "srcset": srcset(renditions, fit_names)}
