"""Resolve records that no event will ever move, and send notifications that are due.

S3 events can be lost and Lambda invocations can die silently, so a schedule
(app.py) looks for uploads that never arrived and claims whose holder is gone.
It also retries events and webhooks whose earlier attempt failed (notify.py's
backoff), and those whose invocation died before it could send them.
"""

import logging

from chalicelib.clock import iso_now
from chalicelib.pipeline import ImagePipeline, Outcome
from chalicelib.status import PENDING, PROCESSING

log = logging.getLogger(__name__)

# Clock skew between the API that issued the URL and S3 that enforces it.
EXPIRY_SLACK_SECONDS = 60


def sweep(pipeline: ImagePipeline, now: float, limit: int = 100) -> list[Outcome]:
    """Finish or fail up to `limit` stuck records of each kind; never raises for one record."""
    settings, store, storage = pipeline.settings, pipeline.store, pipeline.storage
    outcomes = []

    def attempt(key: str) -> None:
        try:
            outcomes.append(pipeline.process_object(key))
        except Exception:  # a transient fault: the next sweep tries again
            log.exception("sweeper could not process %s", key)

    upload_deadline = iso_now(now - settings.upload_url_ttl - EXPIRY_SLACK_SECONDS)
    for record in store.stuck(PENDING, upload_deadline, limit):
        key = record["source"]["key"]
        if storage.source_info(key) is not None:
            attempt(key)  # the object arrived but its event was lost
        elif store.expire_pending(record["image_id"], "No upload arrived before its URL expired.", iso_now(now)):
            outcomes.append(Outcome(key, record["image_id"], "expired"))
            pipeline.notify_final(record["image_id"])

    for record in store.stuck(PROCESSING, iso_now(now), limit):
        if record.get("lease_until", 0) <= now:
            attempt(record["source"]["key"])  # its holder died; take over or give up

    if pipeline.notifier is not None:
        for image_id in store.due_notifications(iso_now(now), limit):
            said = pipeline.notifier.deliver(image_id, now)
            if said:
                outcomes.append(Outcome("", image_id, f"notified: {said}"))
    return outcomes
