"""An upload link is for one file.

A presigned POST stays valid for its whole lifetime (UPLOAD_URL_TTL) and S3
accepts any number of objects through it, each overwriting the key and firing
a new event. Without a rule each would be processed again: a resize, an
output, a notification per POST, for one issued upload. So the first object
whose ETag the record has claimed is the upload; a later, different object at
an API upload key is not processed, and the record says so in
`reused_upload`. Keys put straight into the bucket keep their rule: a new
object there is a new version of the image.
"""

from chalicelib.status import DELETED

REUSED_MESSAGE = ("This upload link was used again: only the first file sent with it is processed; "
                  "ask for a new upload (POST /uploads) for another file.")


def reused_upload(record: dict | None, etag: str) -> bool:
    """Whether an object with `etag` at this record's upload key is a second file sent with its link."""
    first = (record or {}).get("source", {}).get("etag")
    return bool(first) and first != etag and record.get("status") != DELETED  # type: ignore[union-attr]


def reuse_note(etag: str, now: str) -> dict:
    """What the record says of a later object refused at its upload key (`reused_upload`)."""
    return {"etag": etag, "at": now, "code": "upload_reused", "message": REUSED_MESSAGE}
