"""Delivers S3 notifications from an SQS queue to the real `resize_image` handler.

This plays the part Lambda's S3 trigger plays on AWS: the message body is the
event JSON S3 produced, passed on unchanged. A failed invocation leaves the
message on the queue with a growing visibility timeout (retry with backoff);
the queue's redrive policy moves a message that keeps failing to the
dead-letter queue, so nothing is silently dropped.
"""

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from imgpipe.background import BackgroundThreads

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 60


def backoff_seconds(receive_count: int) -> int:
    """1, 2, 4 … seconds after the 1st, 2nd, 3rd … failure, at most a minute."""
    return min(2 ** max(receive_count - 1, 0), MAX_BACKOFF_SECONDS)


class EventWorker(BackgroundThreads):
    """`threads` long-polling loops; each runs one event at a time. stop() lets them
    finish the events in hand, then returns."""

    def __init__(
        self,
        make_client: "Callable[[], SQSClient]",
        queue_url: str,
        handle: Callable[[dict], object],
        threads: int = 2,
        wait_seconds: int = 1,
    ) -> None:
        self._make_client = make_client
        self._queue_url = queue_url
        self._handle = handle
        # A short long-poll: stop() then returns within about a second.
        self._wait_seconds = wait_seconds
        super().__init__((f"imgpipe-worker-{n}", self._run) for n in range(threads))

    def _run(self) -> None:
        sqs = self._make_client()
        while not self.stopping.is_set():
            try:
                got = sqs.receive_message(
                    QueueUrl=self._queue_url,
                    MaxNumberOfMessages=1,
                    WaitTimeSeconds=self._wait_seconds,
                    MessageSystemAttributeNames=["ApproximateReceiveCount"],
                )
                for message in got.get("Messages", []):
                    self._deliver(sqs, message)
            except Exception:  # the queue did not answer: the message, if any, comes back
                if not self.stopping.is_set():
                    log.exception("talking to the event queue failed; trying again")
                    self.stopping.wait(1)

    def _deliver(self, sqs: "SQSClient", message: "MessageTypeDef") -> None:
        try:
            self._handle(json.loads(message["Body"]))
        except Exception as exc:  # the handler has logged the details, as on Lambda
            count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
            delay = backoff_seconds(count)
            log.warning("event failed on delivery %d (%s: %s); retrying in %d s",
                        count, type(exc).__name__, exc, delay)
            sqs.change_message_visibility(
                QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=delay
            )
            return
        sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
