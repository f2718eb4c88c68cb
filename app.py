"""Chalice wiring only: routes, the S3 event handler, the schedule and the lazy getters.

The parts (settings, clients, pipeline) are chalicelib/services.py's, built once per cold start;
HTTP policy is chalicelib/web.py's; what a route does is api.py's, a handler handlers.py's.
"""

import logging
from collections.abc import Callable

from chalice import Chalice, Rate, Response
from chalice.app import CloudWatchEvent, LambdaFunctionEvent, Request

from chalicelib import api, handlers, web
from chalicelib.config import auth_mode, input_bucket_name, resize_bound_by_template, tracing_enabled
from chalicelib.identity import Caller, caller_of
from chalicelib.services import Services

app = Chalice(app_name="imgpipe")
app.log.setLevel(logging.INFO)
PROTECTED = web.route_guard(auth_mode())  # every route but the page and /health
services = Services()
# The getters the CLI (imgpipe/) and the tests use, each with cache_clear.
get_settings, get_storage, get_status_store = services.settings, services.storage, services.status_store
get_invoker, get_notifier, get_pipeline = services.invoker, services.notifier, services.pipeline
get_variants, get_usage, get_cdn = services.variants, services.usage, services.cdn
get_renderer = services.renderer
json_errors = web.json_errors(app.log)


@app.middleware("http")
def error_shape_and_cors(request: Request, get_response: Callable[[Request], Response]) -> Response:
    return web.shape_response(request, get_response, services.settings, app.log)


def _request() -> Request:
    return web.current_request(app)


def _caller() -> Caller:
    settings = services.settings()
    return caller_of(_request().context, settings.admin_group, settings.admin_scope)


def _owner() -> str | None:
    """The owner whose images this caller reads and changes (None: an admin, or an open API)."""
    return _caller().sees


@app.route("/uploads", methods=["POST"], **PROTECTED)
@json_errors
def create_upload() -> Response:
    request, caller = _request(), _caller()
    owner = caller.owner if caller.admin else _owner()  # a new upload is the caller's own, an admin's too
    body = api.create_upload(services, web.json_body(request), web.base_url(request), owner)
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
    settings = services.settings()
    return web.html(web.upload_page(settings.sign_in_url, settings.sign_in_client_id))


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
    handlers.resize(services, event)


resize_image = handlers.register_resize(app, resize_image, resize_bound_by_template(), input_bucket_name)


@app.schedule(Rate(5, unit=Rate.MINUTES))
def sweep_stuck_images(event: CloudWatchEvent) -> None:
    """Finish uploads whose event was lost; fail those that never arrived; send due notifications."""
    app.log.info("sweeper resolved %d records", handlers.sweep(services))


@app.lambda_function(name="backfill_image")
def backfill_image(event: dict, context: object) -> dict:
    """S3 Batch Operations' per-object invocation (`reprocess --batch`): render the object again."""
    return handlers.backfill(services, event)


@app.lambda_function(name="render_variant")
def render_variant(event: dict, context: object) -> dict:
    """A variant's first render, invoked synchronously by the /v/ route (RENDER_FUNCTION): its own memory."""
    return handlers.render_variant(services, event)


if tracing_enabled():  # only then aws-xray-sdk's import; off outside Lambda (tests, make run)
    from aws_lambda_powertools import Tracer

    tracer = Tracer()

    @app.middleware("all")
    @tracer.capture_method(capture_response=False)
    def trace_invocation(event: object, get_response: Callable[[object], object]) -> object:
        """Every handler (API, resize, sweeper) runs in its own subsegment."""
        return get_response(event)
