"""S3 Batch Operations: one invocation shape more for the same `process_object`.

A backfill (a new RENDITIONS setting, a fix for FAILED images) of millions of
objects runs as a Batch Operations job that invokes `backfill_image` once per
manifest line. Each task forgets the ETag its record finished, so the image
is rendered again, and reports back in the job's result schema: the job's
completion report then lists every image that could not be done, and why.
"""

import logging
from collections.abc import Callable
from urllib.parse import unquote_plus

from chalicelib.clock import iso_now
from chalicelib.errors import ImageBusyError
from chalicelib.pipeline import ImagePipeline
from chalicelib.status import COMPLETE, FAILED
from chalicelib.uploads import image_id_for_key

log = logging.getLogger(__name__)

SUCCEEDED, TEMPORARY, PERMANENT = "Succeeded", "TemporaryFailure", "PermanentFailure"
SCHEMA_VERSIONS = ("1.0", "2.0")


def task_bucket(task: dict) -> str:
    """Schema 2.0 names the bucket; 1.0 gives its ARN (`arn:aws:s3:::NAME`)."""
    return task.get("s3Bucket") or str(task.get("s3BucketArn", "")).rsplit(":", 1)[-1]


def run_task(pipeline: ImagePipeline, task: dict, clock: Callable[[], float]) -> tuple[str, str]:
    """(result code, result string) of rendering one manifest line again."""
    if task_bucket(task) != pipeline.settings.input_bucket:
        return PERMANENT, f"Not the input bucket ({pipeline.settings.input_bucket})."
    key = unquote_plus(task.get("s3Key", ""))  # manifest keys are URL-encoded
    pipeline.store.reopen(image_id_for_key(key), iso_now(clock()))
    try:
        outcome = pipeline.process_object(key)
    except ImageBusyError:
        return TEMPORARY, "Another invocation is processing this image."
    except Exception:  # an AWS fault: Batch Operations redrives the task
        log.exception("backfill of %s failed; Batch Operations will retry it", key)
        return TEMPORARY, "A transient error; the task will be retried."
    if outcome.result in (COMPLETE, "duplicate", "covers"):  # covers: a PATCH re-render ran meanwhile
        return SUCCEEDED, outcome.result
    if outcome.result == FAILED and outcome.image_id is not None:  # a FAILED outcome names its image
        record = pipeline.store.get(outcome.image_id) or {}
        error = record.get("error", {})
        return PERMANENT, f"{error.get('code', 'failed')}: {error.get('message', '')}".strip()
    if outcome.result == "gone":
        return PERMANENT, "The object no longer exists."
    return PERMANENT, f"Not processed ({outcome.result})."


def handle_batch(pipeline: ImagePipeline, event: dict, clock: Callable[[], float]) -> dict:
    """The response Batch Operations expects for an invocation event."""
    version = event.get("invocationSchemaVersion")
    if version not in SCHEMA_VERSIONS:
        raise ValueError(f"unknown Batch Operations invocation schema {version!r}")
    results = []
    for task in event.get("tasks", []):
        code, text = run_task(pipeline, task, clock)
        results.append({"taskId": task["taskId"], "resultCode": code, "resultString": text})
    return {
        "invocationSchemaVersion": version,
        "treatMissingKeysAs": PERMANENT,
        "invocationId": event.get("invocationId"),
        "results": results,
    }
