"""Orchestration: turn one S3 object into renditions and a final record.

S3 delivers events at least once and in any order, so every step is safe to
repeat: the claim in the status store decides who works, output keys are
deterministic, and the object is read by ETag. A bad image ends FAILED and
returns normally; a transient fault raises so Lambda retries the event.
"""

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chalicelib.clock import iso_now
from chalicelib.config import Settings
from chalicelib.errors import (
    ImageBusyError,
    ImageDeletedError,
    ImageProcessingError,
    ImageRejectedError,
    SourceChangedError,
)
from chalicelib.crop import Point
# rendition_outputs is pure (imgpipe resize and bench use it with no AWS).
from chalicelib.imaging import EncodedRendition, ProcessedImage, process_image, rendition_outputs
from chalicelib.limits import check_size  # the one size rule, uploads.py's too
from chalicelib.notify import Notifier
from chalicelib.observability import bind_image, record_failed, record_processed
from chalicelib.observability import logger as log
from chalicelib.renditions import COVER, RenditionSpec, output_key
from chalicelib.s3events import CREATED, object_events  # object_events: tests import it from here
from chalicelib.status import COMPLETE, DELETED, FAILED, Claim, DynamoStatusStore
from chalicelib.storage import ObjectInfo, S3Storage
from chalicelib.reuse import reuse_note, reused_upload
from chalicelib.uploads import image_id_for_key, is_upload_key
from chalicelib.writer import RenditionWriter

OUTPUT_PREFIXES = ("processed-", "renditions/")


@dataclass(frozen=True)
class Outcome:
    """What one event record led to, for logs and tests."""

    key: str
    image_id: str | None
    # COMPLETE, FAILED, covers (re-rendered), duplicate, ignored, gone, superseded, lost_lease, deleted, reused
    result: str




def rendition_version(data: bytes) -> str:
    """16 hex digits of the MD5 of a stored object's bytes: CDN URLs carry it
    (`?v=`), so re-rendered bytes under the same key get a new URL."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()[:16]


def focus_point(focus: dict | None) -> Point | None:
    return (float(focus["x"]), float(focus["y"])) if focus else None


def keeps_focus(spec: RenditionSpec) -> bool:
    """Whether a rendition's pixels depend on the focal point (`cover`, not `cover:center`)."""
    return spec.mode == COVER and not spec.centred


# Re-renders one event may run back to back, each for a focus PATCHed during the one before.
_RERENDER_ROUNDS = 5


def cover_group(outputs: Sequence[tuple[RenditionSpec, str]], entries: list[dict]) -> list[int]:
    """Indices of the outputs to re-render for a new focus: the covers that keep it, and
    any rendition sharing an object with one (its bytes must not change under it).
    Every output when the record was made with other RENDITIONS or OUTPUT_FORMATS."""
    aligned = len(entries) == len(outputs) and all(
        e["name"] == spec.name and fmt in ("source", "auto", e["format"])
        for e, (spec, fmt) in zip(entries, outputs)
    )
    if not aligned:
        return list(range(len(outputs)))
    covers = {entries[i]["key"] for i, (spec, _) in enumerate(outputs) if keeps_focus(spec)}
    return [i for i, (spec, _) in enumerate(outputs) if keeps_focus(spec) or entries[i]["key"] in covers]


class ImagePipeline:
    def __init__(
        self,
        settings: Settings,
        storage: S3Storage,
        store: DynamoStatusStore,
        clock: Callable[[], float] = time.time,
        notifier: Notifier | None = None,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.store = store
        self.clock = clock
        self.notifier = notifier
        self.outputs = rendition_outputs(settings)

    def notify_final(self, image_id: str) -> None:
        """The one call after a final write (COMPLETE or FAILED): its event and webhook.
        Never raises; whatever fails stays due for the sweeper."""
        if self.notifier is not None:
            said = self.notifier.deliver(image_id, self.clock())
            if said:
                log.info("image %s notified: %s", image_id, said)

    def handle_event(self, event: dict) -> list[Outcome]:
        """Process every record; the first transient error propagates after the rest ran."""
        outcomes: list[Outcome] = []
        pending_error: Exception | None = None
        for kind, key in object_events(event, self.settings.input_bucket):
            try:
                handle = self.process_object if kind == CREATED else self.forget_object
                outcomes.append(handle(key))
            except ImageBusyError as exc:  # the designed "try later", not a fault
                log.info("%s; the event will be retried", exc)
                pending_error = pending_error or exc
            except Exception as exc:  # finish the other records, then let Lambda retry
                log.exception("processing %s failed; the event will be retried", key)
                pending_error = pending_error or exc
        if pending_error:
            raise pending_error
        return outcomes

    def is_own_output(self, key: str) -> bool:
        return self.settings.input_bucket == self.settings.output_bucket and key.startswith(OUTPUT_PREFIXES)

    def process_object(self, key: str) -> Outcome:
        image_id = image_id_for_key(key)
        bind_image(image_id, key)
        if self.is_own_output(key):
            return Outcome(key, None, "ignored")
        info = self.storage.source_info(key)
        if info is None:
            return Outcome(key, None, "gone")  # deleted before we got here
        now = self.clock()
        if is_upload_key(key):  # one read more, for API uploads only: is this a second file on one link?
            record = self.store.get(image_id)
            if record is not None and reused_upload(record, info.etag):
                self.store.note_reused_upload(image_id, record["source"]["etag"], reuse_note(info.etag, iso_now(now)))
                log.info("image %s: its upload link was used again (ETag %s); not processed", image_id, info.etag)
                return Outcome(key, image_id, "reused")
        source = {"bucket": self.storage.input_bucket, "key": key, "bytes": info.size, "etag": info.etag}
        try:
            claim = self.store.claim(image_id, source, iso_now(now), now, self.settings.lease_seconds)
        except ImageDeletedError:  # a late upload for an image deleted through the API
            self.storage.delete_source(key)
            return Outcome(key, image_id, "deleted")
        if claim is None:  # this ETag is finished; a PATCHed focus may still want new covers
            return self._rerender_covers(image_id, info)
        if claim.attempts > self.settings.max_attempts:
            # Earlier attempts died without a word (timeout, out of memory):
            # stop feeding this object to a function it kills.
            message = f"Processing was cut short {claim.attempts - 1} times; giving up."
            self._fail(claim, key, "internal_error", message)
            return Outcome(key, image_id, FAILED)
        try:
            return self._process_claimed(claim, info, source)
        except ImageRejectedError as exc:  # the same bytes would fail again: no retry
            if exc.__cause__ is not None:  # Pillow's own words and the traceback: the log, not the record
                report = log.error if isinstance(exc, ImageProcessingError) else log.info
                report("image %s: %s", image_id, exc.message, exc_info=True)
            self._fail(claim, key, exc.code, exc.message)
            return Outcome(key, image_id, FAILED)
        except SourceChangedError:
            self.store.release(claim, iso_now(self.clock()))
            return Outcome(key, image_id, "superseded")
        except Exception:
            if claim.attempts >= self.settings.max_attempts:
                message = f"Processing failed {claim.attempts} times; giving up."
                self._fail(claim, key, "internal_error", message)
            else:
                self.store.release(claim, iso_now(self.clock()))
            raise

    def _fail(self, claim: Claim, key: str, code: str, message: str) -> None:
        """PROCESSING → FAILED, with its log line and failure metric; the source is
        tagged for its lifecycle rule, and a tagging fault changes nothing but the log."""
        failed = self.store.fail(claim, code, message, iso_now(self.clock()))
        if failed and claim.stale_keys:
            self.storage.delete_renditions(list(claim.stale_keys))  # an earlier result's, now unreferenced
        log.info("image %s failed: %s %s", claim.image_id, code, message)
        record_failed(code)
        try:
            self.storage.tag_failed_source(key)
        except Exception:
            log.exception("could not tag the failed source %s for expiry", key)
        if failed:
            self.notify_final(claim.image_id)

    def forget_object(self, key: str) -> Outcome:
        """The source was deleted: remove its renditions and its record.

        Skipped when the key exists again (a re-upload after the delete), and
        when the record belongs to another key (ids of API uploads are per key).
        """
        if self.is_own_output(key) or self.storage.source_info(key) is not None:
            return Outcome(key, None, "ignored")
        image_id = image_id_for_key(key)
        record = self.store.get(image_id)
        if record is None or record.get("source", {}).get("key") != key or record["status"] == DELETED:
            return Outcome(key, image_id, "gone")  # a tombstone stays: a late upload must still find it
        self.storage.delete_renditions([r["key"] for r in record.get("renditions", [])])
        self.store.delete(image_id)
        return Outcome(key, image_id, "deleted")

    def _process_claimed(self, claim: Claim, info: ObjectInfo, source: dict) -> Outcome:
        started = time.perf_counter()
        check_size(info.size, self.settings.max_upload_bytes)
        data = self.storage.read_source(info, self.settings.max_upload_bytes)
        # The claim removed the record's renditions: if this fails, no record refers to what it wrote.
        result, renditions = self._render(info.key, data, self.outputs, claim.focus, discard_on_failure=True)
        source = {
            **source,
            "format": result.source.format,
            "width": result.source.width,
            "height": result.source.height,
            **({"frames": result.source.frames} if result.source.frames > 1 else {}),
        }
        if result.placeholder:
            # BlurHash and a "#rrggbb" colour, so a client can paint a preview at once.
            source["placeholder"] = {
                "blurhash": result.placeholder.blurhash,
                "dominant_color": result.placeholder.dominant_color,
            }
        if not self.store.complete(claim, source, renditions, iso_now(self.clock())):
            return self._lost(claim, info.key, renditions)
        self._delete_stale(claim.stale_keys, renditions)
        record_processed(info.size, renditions, time.perf_counter() - started)
        self.notify_final(claim.image_id)
        return Outcome(info.key, claim.image_id, COMPLETE)

    def _lost(self, claim: Claim, key: str, written: list[dict]) -> Outcome:
        """Our result could not be recorded: say why, and clean up after a delete."""
        if (self.store.get(claim.image_id) or {"status": DELETED})["status"] == DELETED:
            # Deleted (through the API, or its source) while we worked: take back what we
            # wrote, and what the record pointed to before (no record knows those keys now).
            self.storage.delete_renditions([r["key"] for r in written] + list(claim.stale_keys))
            return Outcome(key, claim.image_id, "deleted")
        log.warning("lease on %s was taken over; its new holder records the result", claim.image_id)
        return Outcome(key, claim.image_id, "lost_lease")

    def _delete_stale(self, stale_keys: Sequence[str], renditions: list[dict]) -> None:
        """Remove the objects of an earlier result the new one does not reuse (a rendition
        dropped from RENDITIONS, a re-upload in another format): no orphans in the bucket."""
        kept = {r["key"] for r in renditions}
        stale = [k for k in stale_keys if k not in kept]
        if stale:
            self.storage.delete_renditions(stale)

    def _render(
        self, source_key: str, data: bytes, outputs: Sequence[tuple[RenditionSpec, str]],
        focus: dict | None, discard_on_failure: bool,
    ) -> tuple[ProcessedImage, list[dict]]:
        """process_image, each distinct object written under its deterministic key as
        soon as it is encoded; the result and the record's entries. If the rendering
        fails, its writes are waited for, and deleted when `discard_on_failure`."""
        writer = RenditionWriter(self.storage)

        def write(rendition: EncodedRendition) -> None:
            writer.write(output_key(source_key, rendition.name, rendition.format), rendition.data,
                         rendition.content_type)

        try:
            result = process_image(data, outputs, self.settings.max_pixels, focus_point(focus), write)
        except BaseException:
            writer.abandon(delete=discard_on_failure)
            raise
        writer.finish()
        return result, self._entries(source_key, result.renditions)

    def _entries(self, source_key: str, encoded: list[EncodedRendition]) -> list[dict]:
        """The record's entry of each rendition; renditions sharing bytes share one key."""
        renditions: list[dict] = []
        for rendition in encoded:
            if rendition.same_as is None:
                key = output_key(source_key, rendition.name, rendition.format)
                version = rendition_version(rendition.data)
            else:  # the same bytes as an earlier rendition: one object, two entries
                key, version = renditions[rendition.same_as]["key"], renditions[rendition.same_as]["version"]
            renditions.append(
                {
                    "name": rendition.name,
                    "format": rendition.format,
                    "width": rendition.width,
                    "height": rendition.height,
                    "bytes": len(rendition.data),
                    "key": key,
                    "version": version,
                    **({"frames": rendition.frames} if rendition.frames > 1 else {}),
                }
            )
        return renditions

    def _rerender_covers(self, image_id: str, info: ObjectInfo) -> Outcome:
        """Re-render the covers of a COMPLETE image whose focus changed (PATCH /images/{id}),
        until they keep the latest focus: a PATCH landing meanwhile is rendered next."""
        outcome = Outcome(info.key, image_id, "duplicate")
        for _ in range(_RERENDER_ROUNDS):
            claim = self.store.claim_covers(image_id, info.etag, self.clock(), self.settings.lease_seconds)
            if claim is None:
                return outcome
            try:
                outcome = self._rerender_claimed(claim, info)
            except SourceChangedError:  # a new upload: its own event processes it, focus included
                self.store.release_covers(claim)
                return Outcome(info.key, image_id, "superseded")
            except Exception:
                self.store.release_covers(claim)  # a retry of this event may start at once
                raise
            if outcome.result != "covers":
                return outcome
        return outcome

    def _rerender_claimed(self, claim: Claim, info: ObjectInfo) -> Outcome:
        entries = list(claim.renditions)  # unchanged while the cover claim is held
        chosen = cover_group(self.outputs, entries)
        data = self.storage.read_source(info, self.settings.max_upload_bytes)
        # The record still refers to the covers' keys: a failure leaves what was written.
        _, made = self._render(info.key, data, [self.outputs[i] for i in chosen], claim.focus,
                               discard_on_failure=False)
        if len(chosen) == len(self.outputs):
            renditions = made
        else:
            renditions = list(entries)
            for i, entry in zip(chosen, made):
                renditions[i] = entry
        if not self.store.finish_covers(claim, renditions, iso_now(self.clock())):
            return self._lost(claim, info.key, made)
        self._delete_stale(claim.stale_keys, renditions)
        log.info("image %s: covers re-rendered for focus %s", claim.image_id, claim.focus)
        return Outcome(info.key, claim.image_id, "covers")
