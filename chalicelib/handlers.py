"""The bodies of the non-HTTP handlers (S3 event, schedule, S3 Batch Operations, variant renders)
that app.py registers.

Each runs observed (chalicelib/observability.py: JSON logs, EMF metrics), imported on call so the
API function never loads Powertools.
"""

import time
from collections.abc import Callable
from typing import cast

from chalice import Chalice
from chalice.app import EventSourceHandler, LambdaFunctionEvent

from chalicelib.services import Services


def resize(services: Services, event: dict | LambdaFunctionEvent) -> None:
    from chalicelib.observability import observe_invocation

    with observe_invocation():
        services.pipeline().handle_event(event.to_dict() if isinstance(event, LambdaFunctionEvent) else event)


def register_resize(app: Chalice, handler: Callable[..., None], by_template: bool,
                    bucket: Callable[[], str]) -> Callable[..., None]:
    """resize_image on the input bucket's events; or, for the packaged CloudFormation stage, a plain
    function whose trigger infra's merge template attaches (`chalice package` refuses on_s3_event)."""
    if by_template:
        return app.lambda_function(name="resize_image")(handler)
    registered = app.on_s3_event(bucket=bucket(), events=["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])(handler)
    # The whole event as it came: S3Event would read only the first record, and fails on
    # s3:TestEvent, which has no Records. (Chalice types its decorators' result as a plain callable.)
    cast(EventSourceHandler, registered).event_class = LambdaFunctionEvent
    return registered


def sweep(services: Services) -> int:
    """How many records the sweeper resolved (chalicelib/sweeper.py)."""
    from chalicelib.observability import observe_invocation
    from chalicelib.sweeper import sweep as sweep_records

    with observe_invocation():
        return len(sweep_records(services.pipeline(), time.time()))


def backfill(services: Services, event: dict) -> dict:
    from chalicelib.batch import handle_batch
    from chalicelib.observability import observe_invocation

    with observe_invocation():
        return handle_batch(services.pipeline(), event, time.time)


def render_variant(services: Services, event: dict) -> dict:
    """A variant's first render, for the /v/ route's synchronous invoke (chalicelib/render.py)."""
    from chalicelib.observability import observe_invocation

    with observe_invocation():
        return services.renderer().handle(event)
