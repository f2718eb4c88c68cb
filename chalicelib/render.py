"""A variant's first render, in a function of its own (`render_variant`, RENDER_FUNCTION).

The /v/ route runs in the API function (256 MB, no Pillow); a first render decodes a
rendition or the source and needs the resize function's memory. So the route invokes
`render_variant` synchronously with `{"image_id", "version", "options"}` (concrete,
canonical options) and gets `{"rendered": bool}` back, or `{"error": {"code",
"message"}}`: a few bytes either way, never the image (Lambda's synchronous response is
at most 6 MB; the route redirects to the stored object). The render function may read
sources and renditions and write only `variants/*` (.chalice/policy-render.json).

Without RENDER_FUNCTION (tests, a stage without the function) the same renderer runs in
the calling process. The local stack invokes the function in-process through the Invoke
API, as AWS would (imgpipe/emulator.py).
"""

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from chalicelib.config import Settings
from chalicelib.errors import (
    ImageConflictError,
    ImageNotFoundError,
    ImgpipeError,
    RenderBusyError,
    SourceChangedError,
)
from chalicelib.renditions import DEFAULT_NAME, FIT
from chalicelib.status import COMPLETE, DELETED, DynamoStatusStore
from chalicelib.storage import ObjectInfo, S3Storage
from chalicelib.uploads import check_image_id
from chalicelib.variants import (
    VariantOptions,
    VariantOptionsError,
    canonical,
    check_output,
    parse_options,
    source_scale,
    source_version,
    variant_key,
)

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

log = logging.getLogger(__name__)
# A stored rendition stands in for the source when it has at least this many
# times the pixels per side the variant needs (as resize.fit's cascade).
BASE_HEADROOM = 2.0
# The error codes a render answers with, back into the API's domain errors (anything else: 500).
_ERRORS: dict[str, type[ImgpipeError]] = {
    ImageNotFoundError.code: ImageNotFoundError,
    ImageConflictError.code: ImageConflictError,
    VariantOptionsError.code: VariantOptionsError,
}

# (image_id, source version, concrete options) → True when this call stored the variant.
Render = Callable[[str, str, VariantOptions], bool]


def base_rendition(record: dict, fit_names: set[str], options: VariantOptions) -> dict | None:
    """The smallest stored still rendition of the whole picture with ≥ BASE_HEADROOM × the
    variant's scale on both sides, or None (render from the source). JPEG first among
    equals: the cheapest to decode."""
    source = record["source"]
    width, height = int(source["width"]), int(source["height"])
    need = BASE_HEADROOM * source_scale(options, (width, height))
    usable = [
        r for r in record.get("renditions", [])
        if r["name"] in fit_names and int(r.get("frames", 1)) == 1 and r["format"] in ("jpeg", "webp", "png")
        and int(r["width"]) >= need * width and int(r["height"]) >= need * height
        and int(r["width"]) < width  # the source's own size: read the source, not a re-encode of it
    ]
    order = {"jpeg": 0, "webp": 1, "png": 2}
    return min(usable, key=lambda r: (int(r["width"]) * int(r["height"]), order[r["format"]]), default=None)


def complete_record(store: DynamoStatusStore, image_id: str) -> dict:
    """The record of a COMPLETE image: ImageNotFoundError (404) for an unknown or deleted
    one, ImageConflictError (409) until it is COMPLETE. The route and the render both ask."""
    record = store.get(image_id)
    if record is None or record.get("status") == DELETED:
        raise ImageNotFoundError(f"There is no image {image_id}.")
    if record["status"] != COMPLETE:
        raise ImageConflictError(f"Image {image_id} is {record['status']}; its variants exist once it is COMPLETE.")
    return record


def render_request(image_id: str, version: str, options: VariantOptions) -> dict:
    """The render function's event."""
    return {"image_id": image_id, "version": version, "options": canonical(options)}


class VariantRenderer:
    """Renders one variant and stores it once (the render function's work)."""

    def __init__(self, settings: Settings, storage: S3Storage, store: DynamoStatusStore) -> None:
        self.settings, self.storage, self.store = settings, storage, store
        self.fit_names = {s.name for s in settings.renditions if s.mode == FIT} | {DEFAULT_NAME}

    def render(self, image_id: str, version: str, options: VariantOptions) -> bool:
        """Render and store with a conditional write; False when another request stored it first."""
        from chalicelib.imaging.variant import process_variant  # Pillow: the render function only
        from chalicelib.pipeline import focus_point

        record = complete_record(self.store, image_id)
        source = record["source"]
        if source_version(source["etag"]) != version:  # re-uploaded since the route read it
            raise ImageConflictError(f"Image {image_id} changed while its variant was asked for; ask again.")
        check_output(options, (int(source["width"]), int(source["height"])), self.settings.variant_limits)
        key = variant_key(image_id, version, options)
        base = base_rendition(record, self.fit_names, options)
        data = self.storage.read_output(base["key"]) if base else None
        if data is None:  # no rendition large enough, or it went meanwhile
            info = ObjectInfo(source["key"], int(source["bytes"]), source["etag"], "")
            try:
                data = self.storage.read_source(info, self.settings.max_upload_bytes)
            except SourceChangedError:  # deleted (404) or re-uploaded (409) since the record was read
                complete_record(self.store, image_id)
                raise ImageConflictError(f"Image {image_id} changed while its variant was asked for; "
                                         "ask again.") from None
        made = process_variant(data, options, self.settings.max_pixels, focus_point(record.get("focus")))
        stored = self.storage.write_new_output(key, made.data, made.content_type)
        # A DELETE that ran while this rendered has already emptied the variants' prefix.
        now = self.store.get(image_id)
        if now is None or now.get("status") == DELETED:
            self.storage.delete_renditions([key])
            raise ImageNotFoundError(f"There is no image {image_id}.")
        return stored

    def handle(self, event: dict) -> dict:
        """The render function's answer to one event: `{"rendered"}` or `{"error": {"code", "message"}}`.
        The event comes from the API function only (IAM), and is checked as if it did not."""
        try:
            if not isinstance(event, dict) or not all(isinstance(event.get(k), str)
                                                      for k in ("image_id", "version", "options")):
                raise VariantOptionsError("A render needs an image_id, a version and options.")
            options = parse_options(event["options"])
            if options.format == "auto":
                raise VariantOptionsError("A render needs a concrete format, not auto.")
            rendered = self.render(check_image_id(event["image_id"]), event["version"], options)
        except ImgpipeError as exc:
            if exc.code not in _ERRORS:  # ours, not the caller's: keep the cause (Pillow's, S3's) in the log
                log.exception("rendering a variant of %s failed", event.get("image_id") if isinstance(event, dict) else "?")
            return {"error": {"code": exc.code, "message": exc.message}}
        return {"rendered": rendered}


class LambdaRenderer:
    """Invokes the render function (RequestResponse) and turns its answer back into domain errors."""

    def __init__(self, client: "LambdaClient", function_name: str) -> None:
        self._lambda, self._function = client, function_name

    def render(self, image_id: str, version: str, options: VariantOptions) -> bool:
        from botocore.exceptions import ClientError

        try:
            answer = self._lambda.invoke(
                FunctionName=self._function, InvocationType="RequestResponse",
                Payload=json.dumps(render_request(image_id, version, options)).encode(),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TooManyRequestsException":
                raise RenderBusyError("Too many variants are being rendered right now; "
                                      "try again in a few seconds.") from exc
            raise
        body = answer["Payload"].read()
        if answer.get("FunctionError"):  # a crash, a timeout, out of memory: the function's log has it
            raise ImgpipeError("The variant could not be rendered this time; try again.")
        result = json.loads(body)
        if "error" in result:
            error = result["error"]
            raise _ERRORS.get(error.get("code"), ImgpipeError)(str(error.get("message", "")))
        return bool(result["rendered"])
