"""Chalice wiring only: routes, the S3 event handler, the schedule and the lazy getters.

The parts (settings, clients, the pipeline) are chalicelib/services.py's, each
built on first use, once per cold start; the HTTP policy (error shape, CORS,
bodies) is chalicelib/web.py's; what a route does is chalicelib/api.py's.
"""

import logging
import time
from collections.abc import Callable
from typing import cast

from chalice import Chalice, Rate, Response
from chalice.app import CloudWatchEvent, EventSourceHandler, LambdaFunctionEvent, Request

from chalicelib import api, web
from chalicelib.config import auth_mode, input_bucket_name, resize_bound_by_template, tracing_enabled
from chalicelib.services import Services

app = Chalice(app_name="imgpipe")
app.log.setLevel(logging.INFO)
PROTECTED = web.route_guard(auth_mode())  # every route but the page and /health

services = Services()
# The getters the CLI (imgpipe/) and the tests use, each with cache_clear.
get_settings, get_storage, get_status_store = services.settings, services.storage, services.status_store
get_invoker, get_notifier, get_pipeline = services.invoker, services.notifier, services.pipeline
get_variants = services.variants
json_errors = web.json_errors(app.log)


@app.middleware("http")
def error_shape_and_cors(request: Request, get_response: Callable[[Request], Response]) -> Response:
    return web.shape_response(request, get_response, services.settings, app.log)


def _request() -> Request:
    """The request a route is answering (Chalice sets it before calling the route)."""
    request = app.current_request
    if request is None:
        raise RuntimeError("no current request: only a route may ask for it")
    return request


def _owner() -> str | None:
    return api.request_owner(_request().context)


@app.route("/uploads", methods=["POST"], **PROTECTED)
@json_errors
def create_upload() -> Response:
    request = _request()
    body = api.create_upload(services, web.json_body(request), web.base_url(request), _owner())
    return Response(body, status_code=201)


@app.route("/images", methods=["GET"], **PROTECTED)
@json_errors
def list_images() -> dict:
    return api.list_images(services, dict(_request().query_params or {}), _owner())


@app.route("/images/{image_id}", methods=["GET"], **PROTECTED)
@json_errors
def get_image(image_id: str) -> dict:
    return api.get_image(services, image_id, _owner())


@app.route("/images/{image_id}", methods=["PATCH"], **PROTECTED)
@json_errors
def update_image(image_id: str) -> Response:
    body = api.set_focus(services, image_id, web.json_body(_request()), _owner())
    return Response(body, status_code=202)


@app.route("/images/{image_id}", methods=["DELETE"], **PROTECTED)
@json_errors
def delete_image(image_id: str) -> Response:
    api.delete_image(services, image_id, _owner())
    return Response("", status_code=204)


@app.route("/images/{image_id}/variants", methods=["POST"], **PROTECTED)
@json_errors
def sign_variant(image_id: str) -> Response:
    request = _request()
    body = api.sign_variant(services, image_id, web.json_body(request), web.base_url(request), _owner())
    return Response(body, status_code=201)


# Public: the signature in the path is the authorization (chalicelib/ondemand.py).
@app.route("/v/{signature}/{image_id}/{options}", methods=["GET"])
@json_errors
def variant(signature: str, image_id: str, options: str) -> Response:
    answer = api.variant_redirect(services, signature, image_id, options, _request().headers.get("accept"))
    return Response("", status_code=302, headers={"Location": answer.location, **answer.headers})


@app.route("/", methods=["GET"])
def upload_page() -> Response:
    return Response(web.upload_page(), headers={"Content-Type": "text/html; charset=utf-8"})


@app.route("/health", methods=["GET"])
@json_errors
def health() -> Response:
    healthy, body = api.health(services)
    return Response(body, status_code=200 if healthy else 503)


# CORS preflight: answered by the middleware above, for every origin listed.
@app.route("/uploads", methods=["OPTIONS"])
@app.route("/images", methods=["OPTIONS"])
@app.route("/images/{image_id}", methods=["OPTIONS"])
@app.route("/images/{image_id}/variants", methods=["OPTIONS"])
def preflight(image_id: str | None = None) -> Response:
    return Response("", status_code=204)


def resize_image(event: dict | LambdaFunctionEvent, context: object = None) -> None:
    """Every record of the event, not only the first that S3Event exposes."""
    from chalicelib.observability import observe_invocation

    with observe_invocation():
        get_pipeline().handle_event(event.to_dict() if isinstance(event, LambdaFunctionEvent) else event)


if resize_bound_by_template():  # the packaged CloudFormation stage: infra's merge template attaches the event
    resize_image = app.lambda_function(name="resize_image")(resize_image)
else:
    s3_events = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
    resize_image = app.on_s3_event(bucket=input_bucket_name(), events=s3_events)(resize_image)
    # The whole event as it came: S3Event would read only the first record, and fails on
    # s3:TestEvent, which has no Records. (Chalice types its decorators' result as a plain callable.)
    cast(EventSourceHandler, resize_image).event_class = LambdaFunctionEvent


@app.schedule(Rate(5, unit=Rate.MINUTES))
def sweep_stuck_images(event: CloudWatchEvent) -> None:
    """Finish uploads whose event was lost; fail those that never arrived; send due notifications."""
    from chalicelib.observability import observe_invocation
    from chalicelib.sweeper import sweep

    with observe_invocation():
        outcomes = sweep(get_pipeline(), time.time())
    app.log.info("sweeper resolved %d records", len(outcomes))


@app.lambda_function(name="backfill_image")
def backfill_image(event: dict, context: object) -> dict:
    """S3 Batch Operations' per-object invocation (`reprocess --batch`): render the object again."""
    from chalicelib.batch import handle_batch
    from chalicelib.observability import observe_invocation

    with observe_invocation():
        return handle_batch(get_pipeline(), event, time.time)


if tracing_enabled():
    # Imported only here: untraced stages do not pay aws-xray-sdk's import time. The Tracer
    # patches botocore (a subsegment per S3 and DynamoDB call) and disables itself outside
    # Lambda or with POWERTOOLS_TRACE_DISABLED, so tests and `make run` send no segments.
    from aws_lambda_powertools import Tracer

    tracer = Tracer()

    @app.middleware("all")
    @tracer.capture_method(capture_response=False)
    def trace_invocation(event: object, get_response: Callable[[object], object]) -> object:
        """Every handler (API, resize, sweeper) runs in its own subsegment."""
        return get_response(event)
