"""Ask the resize function, asynchronously, to look at a source object again.

PATCH /images/{id} records a new focus, then sends the function the S3
notification an upload would have produced: the handler finds the ETag it
already finished, sees that the focus changed, and re-renders the covers.
InvocationType=Event is Lambda's own queue, with its retries.
"""

import json
import time
from typing import TYPE_CHECKING
from urllib.parse import quote_plus

from chalicelib.clock import iso_now
from chalicelib.errors import ConfigError

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient


def object_created_event(bucket: str, key: str, now: float) -> dict:
    """The S3 notification shape pipeline.object_events reads (keys URL-encoded, `+` for spaces)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "eventTime": iso_now(now),
                "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key, safe="/")}},
            }
        ]
    }


class ResizeInvoker:
    """Lambda's Invoke API for the resize function (RESIZE_FUNCTION)."""

    def __init__(self, client: "LambdaClient", function_name: str) -> None:
        self._lambda = client
        self._function = function_name

    def check(self) -> None:
        """Raise ConfigError unless there is a function to ask: before anything is recorded."""
        if not self._function:
            raise ConfigError("RESIZE_FUNCTION is not set: the resize function cannot be asked to re-render")

    def reprocess(self, bucket: str, key: str) -> None:
        self.check()
        self._lambda.invoke(
            FunctionName=self._function,
            InvocationType="Event",
            Payload=json.dumps(object_created_event(bucket, key, time.time())).encode(),
        )
