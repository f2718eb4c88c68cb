"""`python -m imgpipe reprocess`: run the handler again for objects already uploaded.

For a backfill after a rendition change, or to retry FAILED images after a
fix. The handler skips an ETag it has already finished (S3 redelivers events,
so that is its duty), hence each chosen record first forgets the ETag it
finished; then the real `resize_image` gets the event S3 would have sent.
"""

import os
import time
from collections.abc import Iterator
from types import ModuleType

import boto3
from chalice.local import LambdaContext

from chalicelib.clock import iso_now
from chalicelib.invoke import object_created_event
from chalicelib.uploads import image_id_for_key


def chosen_keys(app_module: ModuleType, prefix: str, statuses: set[str]) -> Iterator[tuple[str, str | None]]:
    """(key, current status) of input objects under `prefix` whose status is in `statuses`."""
    settings, store = app_module.get_settings(), app_module.get_status_store()
    paginator = boto3.client("s3", region_name=settings.region).get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=settings.input_bucket, Prefix=prefix):
        for listed in page.get("Contents", []):
            record = store.get(image_id_for_key(listed["Key"]))
            status = record["status"] if record else None
            if not statuses or status in statuses:
                yield listed["Key"], status


def reprocess_key(app_module: ModuleType, key: str) -> str:
    """Run the handler for one input object; returns the record's new status."""
    image_id = image_id_for_key(key)
    settings, store = app_module.get_settings(), app_module.get_status_store()
    store.reopen(image_id, iso_now(time.time()))
    event = object_created_event(settings.input_bucket, key, time.time())
    app_module.resize_image(event, LambdaContext("resize_image", 1024, max_runtime_ms=900_000))
    record = store.get(image_id)
    return record["status"] if record else "missing"


def load_app(stage_env: dict[str, str]) -> ModuleType:
    """app.py imported with the stage's environment, as Lambda would."""
    os.environ.update(stage_env)
    import app as app_module

    return app_module
