"""What each HTTP route does, without Chalice: validate, call adapters, shape JSON.

Each takes the Services of the cold start and the caller (`owner`); each raises
domain errors, which chalicelib/web.py turns into status codes.
"""

import time
from typing import TYPE_CHECKING

from chalicelib.clock import iso_now
from chalicelib.config import whole_number
from chalicelib.errors import ImageConflictError, ImageNotFoundError, InvalidRequestError
from chalicelib.identity import request_owner  # noqa: F401  (its old home; tests import it here)
from chalicelib.services import Services
from chalicelib.status import COMPLETE, DELETED, STATUSES, decode_cursor
from chalicelib.uploads import (
    check_image_id,
    image_id_for_key,
    is_upload_key,
    new_image_id,
    upload_focus,
    upload_key,
    validate_focus_request,
    validate_upload_request,
)
from chalicelib.urls import with_urls
from chalicelib.variants import options_from_body, variants_prefix

if TYPE_CHECKING:
    from chalicelib.ondemand import Redirect

# A PENDING record whose upload never arrives is dropped by DynamoDB's TTL
# this long after its upload URL expired.
PENDING_RECORD_GRACE = 24 * 3600
MAX_PAGE = 100


def _owned(record: dict | None, owner: str | None) -> dict | None:
    """The record if this caller may see it: anyone on an open API, else its creator.
    A tombstone is no record at all."""
    if record is None or record.get("status") == DELETED or (owner and record.get("owner") != owner):
        return None
    return record


def create_upload(services: Services, body: object, base_url: str, owner: str | None = None) -> dict:
    """Issue a presigned POST for one image and record it as PENDING."""
    settings, storage, store = services.settings(), services.storage(), services.status_store()
    filename, content_type, size = validate_upload_request(
        body, settings.max_upload_bytes, settings.unsafe_local_webhooks
    )
    image_id = new_image_id()
    key = upload_key(image_id, filename)
    now = time.time()
    if owner:  # an open API has nobody to count for; API Gateway's usage plan still meters it
        services.usage().spend(owner, size or settings.max_upload_bytes, now)
    # A declared size is a promise: the policy holds the client to it.
    upload = storage.presign_upload(
        key, content_type, size or settings.max_upload_bytes, settings.upload_url_ttl
    )
    expires = now + settings.upload_url_ttl
    assert isinstance(body, dict)  # validate_upload_request refused anything else
    store.create_pending(
        image_id, storage.input_bucket, key, iso_now(now), int(expires) + PENDING_RECORD_GRACE, owner,
        focus=upload_focus(body), callback_url=body.get("callback_url"),
    )
    return {
        "image_id": image_id,
        "upload": upload,
        "expires_at": iso_now(expires),
        "status_url": f"{base_url}/images/{image_id}",
    }


def get_image(services: Services, image_id: str, owner: str | None = None) -> dict:
    settings, storage, store = services.settings(), services.storage(), services.status_store()
    record = _owned(store.get(check_image_id(image_id)), owner)
    if record is None:
        raise ImageNotFoundError(f"no image {image_id}")
    return with_urls(record, settings, storage)


def list_images(services: Services, params: dict[str, str], owner: str | None = None) -> dict:
    """`?status=&key=&limit=&cursor=&urls=`; `key` finds the one record of a source key.

    `urls=false` leaves the presigned URLs out: a listing that only shows
    states and sizes then costs no signing at all.
    """
    settings, storage, store = services.settings(), services.storage(), services.status_store()
    unknown = set(params) - {"status", "key", "limit", "cursor", "urls"}
    if unknown:
        raise InvalidRequestError(f"unknown query parameters: {', '.join(sorted(unknown))}")
    status = params.get("status")
    if status is not None and status not in STATUSES:
        raise InvalidRequestError(f"status must be one of {', '.join(STATUSES)}")
    urls = params.get("urls", "true")
    if urls not in ("true", "false"):
        raise InvalidRequestError("urls must be true or false")
    signed = with_urls if urls == "true" else (lambda record, *_: record)
    limit = whole_number(params.get("limit", "25"))
    if limit is None or not 1 <= limit <= MAX_PAGE:
        raise InvalidRequestError(f"limit must be a whole number from 1 to {MAX_PAGE}")
    if "cursor" in params:
        decode_cursor(params["cursor"], status)  # refused alike with `key`
    if "key" in params:
        record = _owned(store.get(image_id_for_key(params["key"])), owner)
        matches = record and record.get("source", {}).get("key") == params["key"]
        if record and matches and (status is None or record["status"] == status):
            return {"items": [signed(record, settings, storage)], "next_cursor": None}
        return {"items": [], "next_cursor": None}
    items, cursor = store.list(status, limit, params.get("cursor"), owner)
    return {"items": [signed(i, settings, storage) for i in items], "next_cursor": cursor}


def delete_image(services: Services, image_id: str, owner: str | None = None) -> None:
    """Leave a tombstone, then remove the source and every rendition.

    The tombstone (not a bare delete) is what an invocation still working on
    the image, or an upload arriving late, finds: each removes what it wrote.
    It expires when no upload URL issued for the image can be used any more.
    """
    settings, storage, store = services.settings(), services.storage(), services.status_store()
    seen = _owned(store.get(check_image_id(image_id)), owner)
    if seen is None:
        raise ImageNotFoundError(f"no image {image_id}")
    now = time.time()
    expires = int(now) + settings.upload_url_ttl + PENDING_RECORD_GRACE
    # An upload key was issued for this image alone: any object arriving for it
    # later is refused. A key put straight into the bucket may be used again.
    refuses = is_upload_key(seen.get("source", {}).get("key", ""))
    replaced = store.tombstone(image_id, iso_now(now), expires, refuses_uploads=refuses)
    if replaced is None:  # deleted by someone else meanwhile
        raise ImageNotFoundError(f"no image {image_id}")
    record, rendition_keys = replaced
    source_key = record.get("source", {}).get("key")
    if source_key:
        storage.delete_source(source_key)
    storage.delete_renditions(list(rendition_keys))
    variants = storage.delete_output_prefix(variants_prefix(image_id))  # on-demand variants (ondemand.py)
    services.cdn().invalidate([*rendition_keys, *variants], image_id, now)


def set_focus(services: Services, image_id: str, body: object, owner: str | None = None) -> dict:
    """Record a COMPLETE image's new focal point and have its covers re-rendered.

    The re-render is asynchronous: the record answered keeps the old covers
    (and `cover_focus`) until the resize function has replaced them.
    """
    settings, storage, store = services.settings(), services.storage(), services.status_store()
    invoker = services.invoker()
    check_image_id(image_id)
    focus = validate_focus_request(body)
    record = _owned(store.get(image_id), owner)
    if record is None:
        raise ImageNotFoundError(f"no image {image_id}")
    if record["status"] != COMPLETE:
        raise ImageConflictError(
            f"image {image_id} is {record['status']}; its focus can change once it is COMPLETE"
        )
    invoker.check()  # a stage that cannot re-render must not record a focus its covers never show
    updated = store.set_focus(image_id, focus, iso_now(time.time()))
    if updated is None:  # deleted, or re-uploaded, since we read it
        if _owned(store.get(image_id), owner) is None:
            raise ImageNotFoundError(f"no image {image_id}")
        raise ImageConflictError(f"image {image_id} is being processed again; try once it is COMPLETE")
    invoker.reprocess(updated["source"]["bucket"], updated["source"]["key"])
    return with_urls(updated, settings, storage)


def sign_variant(services: Services, image_id: str, body: object, base_url: str, owner: str | None = None) -> dict:
    """`POST /images/{id}/variants`: a signed URL of one on-demand variant (chalicelib/ondemand.py)."""
    record = _owned(services.status_store().get(check_image_id(image_id)), owner)
    if record is None:
        raise ImageNotFoundError(f"no image {image_id}")
    return services.variants().signed_url(record, options_from_body(body), base_url)


def variant_redirect(services: Services, signature: str, image_id: str, options: str,
                     accept: str | None) -> "Redirect":
    """`GET /v/{signature}/{image_id}/{options}`: public; the signature is the authorization."""
    return services.variants().answer(signature, image_id, options, accept)


def health(services: Services) -> tuple[bool, dict]:
    storage, store = services.storage(), services.status_store()
    checks = {**storage.check(), "status_table": store.check()}
    healthy = all(v == "ok" for v in checks.values())
    return healthy, {"status": "ok" if healthy else "degraded", "checks": checks}

