"""Rendition URLs: CDN URLs when a CDN fronts the output bucket, else presigned GETs.

With CDN_DOMAIN set, a rendition's URL is `https://{CDN_DOMAIN}/{key}?v={version}`:
no signing at all, and `v` (part of the CDN's cache key) changes whenever the
object's bytes do, so a re-upload is never served stale from a cache. Without
it, each URL is the storage's presigned GET (chalicelib/presign.py signs it).
"""

import hashlib
from urllib.parse import quote

from chalicelib.config import Settings
from chalicelib.renditions import CONTENT_TYPES, DEFAULT_NAME, FIT
from chalicelib.storage import S3Storage


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


def with_urls(record: dict, settings: Settings, storage: S3Storage) -> dict:
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
