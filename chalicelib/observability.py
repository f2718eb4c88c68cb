"""Structured JSON logs and CloudWatch metrics, through AWS Lambda Powertools.

Every log line of the resize handler carries the image id and source key it
is working on, bound per thread (Powertools' thread-safe keys live in a
contextvar): the local stack runs two handler invocations at once, and keys
shared between them put one image's id on another's lines.

Metrics are printed as Embedded Metric Format: CloudWatch Logs turns them
into metrics, so publishing costs no API call, no IAM permission and no
latency. POWERTOOLS_SERVICE_NAME (set per stage in .chalice/config.json)
names the service in logs and the `service` dimension.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

NAMESPACE = "imgpipe"
_IMAGE_KEYS = ("image_id", "key")

logger = Logger()
metrics = Metrics(namespace=NAMESPACE)


def bind_image(image_id: str, key: str) -> None:
    """Put the image id and key on every following log line of this invocation (this thread)."""
    logger.thread_safe_append_keys(image_id=image_id, key=key)


@contextmanager
def observe_invocation() -> Iterator[None]:
    """Around one handler invocation: flush its metrics, forget its image id."""
    try:
        yield
    finally:
        logger.thread_safe_remove_keys(_IMAGE_KEYS)
        if metrics.metric_set:
            metrics.flush_metrics()


def record_processed(source_bytes: int, renditions: list[dict], seconds: float) -> None:
    """Metrics of one COMPLETE image; BytesSaved is source minus `default` rendition.

    BytesOut is what was stored: renditions that share one object count once.
    """
    out = sum({r["key"]: r["bytes"] for r in renditions}.values())
    default = next((r["bytes"] for r in renditions if r["name"] == "default"), source_bytes)
    metrics.add_metric(name="ImagesProcessed", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ProcessingTime", unit=MetricUnit.Milliseconds, value=seconds * 1000)
    metrics.add_metric(name="BytesIn", unit=MetricUnit.Bytes, value=source_bytes)
    metrics.add_metric(name="BytesOut", unit=MetricUnit.Bytes, value=out)
    metrics.add_metric(name="BytesSaved", unit=MetricUnit.Bytes, value=source_bytes - default)
    logger.info(
        "image processed",
        extra={"ms": round(seconds * 1000), "bytes_in": source_bytes, "bytes_out": out,
               "renditions": len(renditions)},
    )


def record_failed(reason: str) -> None:
    """One ImagesFailed datapoint with a `reason` dimension (the error code).

    A metric of its own, flushed at once: a dimension on the shared metric
    set would apply to every metric of the invocation.
    """
    with single_metric(
        name="ImagesFailed", unit=MetricUnit.Count, value=1, namespace=NAMESPACE
    ) as metric:
        metric.add_dimension(name="reason", value=reason)
