"""Chalice wiring only: routes, the S3 event handler and lazy getters.

Clients are built on first use, once per cold start (and after moto starts in
tests); the logic lives in chalicelib. The imaging code (Pillow, its codecs)
is imported by get_pipeline only: the API function never touches pixels, and
its cold start is ~100 ms of CPU shorter without it.
"""

import functools
import json
import logging
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from chalice import Chalice, CognitoUserPoolAuthorizer, IAMAuthorizer, Rate, Response
from chalice.app import Request, S3Event

from chalicelib import api
from chalicelib.config import (
    Settings,
    auth_mode,
    cognito_user_pool_arn,
    input_bucket_name,
    load_settings,
    resize_bound_by_template,
    tracing_enabled,
)
from chalicelib.errors import (
    BodyTooLargeError,
    ImageConflictError,
    ImageNotFoundError,
    ImgpipeError,
    InvalidRequestError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)
from chalicelib.invoke import ResizeInvoker
from chalicelib.notify import EventPublisher, Notifier, StageSecret, WebhookSender
from chalicelib.observability import observe_invocation
from chalicelib.status import DynamoStatusStore
from chalicelib.storage import S3_CLIENT_CONFIG, S3Storage

if TYPE_CHECKING:
    from chalicelib.pipeline import ImagePipeline

app = Chalice(app_name="imgpipe")
app.log.setLevel(logging.INFO)
# An upload request is a few hundred bytes; refuse megabytes before parsing.
MAX_BODY_BYTES = 16 * 1024
AUTH = auth_mode()
if AUTH == "cognito":
    AUTHORIZER = CognitoUserPoolAuthorizer("imgpipe-users", provider_arns=[cognito_user_pool_arn()])
elif AUTH == "iam":
    AUTHORIZER = IAMAuthorizer()
else:
    AUTHORIZER = None
# Every route but the page and /health; api.request_owner reads the caller from the
# key id, the token's `sub` or the IAM user, so each caller sees only its images.
PROTECTED = {"api_key_required": AUTH == "api_key", "authorizer": AUTHORIZER}


@functools.cache
def get_settings() -> Settings:
    return load_settings()


@functools.cache
def get_storage() -> S3Storage:
    settings = get_settings()
    client = boto3.client("s3", region_name=settings.region, config=S3_CLIENT_CONFIG)
    return S3Storage(client, settings.input_bucket, settings.output_bucket)


@functools.cache
def get_status_store() -> DynamoStatusStore:
    settings = get_settings()
    table = boto3.resource("dynamodb", region_name=settings.region).Table(settings.status_table)
    return DynamoStatusStore(table)


@functools.cache
def get_invoker() -> ResizeInvoker:
    settings = get_settings()
    return ResizeInvoker(boto3.client("lambda", region_name=settings.region), settings.resize_function)


@functools.cache
def get_notifier() -> Notifier:
    """Events on EVENT_BUS_NAME (none when empty) and webhooks signed with the stage secret,
    read from Secrets Manager on the first delivery and kept for the cold start."""
    settings = get_settings()
    publisher = None
    if settings.event_bus_name:
        events = boto3.client("events", region_name=settings.region)
        publisher = EventPublisher(events, settings.event_bus_name)
    # The client now (clients are made before threads race, see localstack.py), the secret on first use.
    arn = settings.webhook_secret_arn
    secret = StageSecret(boto3.client("secretsmanager", region_name=settings.region) if arn else None, arn)
    return Notifier(get_status_store(), publisher, WebhookSender(secret, settings.unsafe_local_webhooks))


@functools.cache
def get_pipeline() -> "ImagePipeline":
    from chalicelib.pipeline import ImagePipeline

    return ImagePipeline(get_settings(), get_storage(), get_status_store(), notifier=get_notifier())


_STATUS_OF = [
    (PayloadTooLargeError, 413),
    (UnsupportedMediaTypeError, 415),
    (InvalidRequestError, 400),
    (ImageNotFoundError, 404),
    (ImageConflictError, 409),
]


def _error(code: str, message: str, status: int) -> Response:
    return Response({"error": {"code": code, "message": message}}, status_code=status)


def json_errors(view):
    """Domain errors become their status code with a JSON body, never a trace."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except ImgpipeError as exc:
            status = next((s for cls, s in _STATUS_OF if isinstance(exc, cls)), 500)
            if status == 500:
                app.log.exception("request failed")
                return _error("internal_error", "An internal error occurred.", 500)
            return _error(exc.code, exc.message, status)

    return wrapper


def _reason_code(chalice_code: str) -> str:
    """`MethodNotAllowedError` → `method_not_allowed`; a 500 is `internal_error`."""
    if chalice_code == "InternalServerError":
        return "internal_error"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", chalice_code.removesuffix("Error")).lower()


@app.middleware("http")
def error_shape_and_cors(request: Request, get_response):
    """Give every error, Chalice's own (405, 415, 500) too, our shape; add CORS.

    Chalice's CORSConfig allows a single origin per route, ALLOWED_ORIGINS may
    list several, so the Origin header is matched here for every route.
    """
    try:
        response = get_response(request)
    except Exception:  # outside a json_errors route (e.g. a middleware): still our shape
        app.log.exception("request failed")
        response = _error("internal_error", "An internal error occurred.", 500)
    body = response.body
    if isinstance(body, dict) and {"Code", "Message"} <= set(body):  # even with keys added after
        response.body = {"error": {"code": _reason_code(body["Code"]), "message": body["Message"]}}
    response.headers["X-Content-Type-Options"] = "nosniff"
    origin = request.headers.get("origin")
    allowed = get_settings().allowed_origins
    if origin and ("*" in allowed or origin in allowed):
        response.headers.update(
            {
                "Access-Control-Allow-Origin": "*" if "*" in allowed else origin,
                "Access-Control-Allow-Methods": "GET,POST,PATCH,DELETE,OPTIONS",
                "Access-Control-Allow-Headers": "Content-Type,Authorization,X-Api-Key",
                "Access-Control-Max-Age": "600",
                "Vary": "Origin",
            }
        )
    return response


def _base_url(request: Request) -> str:
    headers = request.headers
    host = headers.get("host", "localhost")
    proto = headers.get("x-forwarded-proto", "http")
    stage = (request.context or {}).get("stage")
    # The execute-api domain carries the stage in the path; custom domains do not.
    prefix = f"/{stage}" if stage and host.endswith(".amazonaws.com") else ""
    return f"{proto}://{host}{prefix}"


def _json_body(request: Request) -> object:
    if len(request.raw_body or b"") > MAX_BODY_BYTES:
        raise BodyTooLargeError(f"request bodies are limited to {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(request.raw_body or b"")
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequestError("body must be valid JSON") from None
    except RecursionError:  # thousands of nested arrays fit in 16 KB
        raise InvalidRequestError("body is nested too deeply") from None


def _owner() -> str | None:
    return api.request_owner(app.current_request.context)


@app.route("/uploads", methods=["POST"], **PROTECTED)
@json_errors
def create_upload():
    request = app.current_request
    body = api.create_upload(
        _json_body(request), _base_url(request), get_settings(), get_storage(), get_status_store(), _owner()
    )
    return Response(body, status_code=201)


@app.route("/images", methods=["GET"], **PROTECTED)
@json_errors
def list_images():
    params = dict(app.current_request.query_params or {})
    return api.list_images(params, get_settings(), get_storage(), get_status_store(), _owner())


@app.route("/images/{image_id}", methods=["GET"], **PROTECTED)
@json_errors
def get_image(image_id: str):
    return api.get_image(image_id, get_settings(), get_storage(), get_status_store(), _owner())


@app.route("/images/{image_id}", methods=["PATCH"], **PROTECTED)
@json_errors
def update_image(image_id: str):
    body = api.set_focus(image_id, _json_body(app.current_request), get_settings(), get_storage(),
                         get_status_store(), get_invoker(), _owner())
    return Response(body, status_code=202)


@app.route("/images/{image_id}", methods=["DELETE"], **PROTECTED)
@json_errors
def delete_image(image_id: str):
    api.delete_image(image_id, get_settings(), get_storage(), get_status_store(), _owner())
    return Response("", status_code=204)


@functools.cache
def get_upload_page() -> str:
    return (Path(__file__).parent / "chalicelib" / "static" / "upload.html").read_text("utf-8")


@app.route("/", methods=["GET"])
def upload_page():
    return Response(get_upload_page(), headers={"Content-Type": "text/html; charset=utf-8"})


@app.route("/health", methods=["GET"])
@json_errors
def health():
    healthy, body = api.health(get_storage(), get_status_store())
    return Response(body, status_code=200 if healthy else 503)


# CORS preflight: answered by the middleware above, for every origin listed.
@app.route("/uploads", methods=["OPTIONS"])
@app.route("/images", methods=["OPTIONS"])
@app.route("/images/{image_id}", methods=["OPTIONS"])
def preflight(image_id: str | None = None):
    return Response("", status_code=204)


class S3Notification(S3Event):
    """S3Event that also accepts s3:TestEvent, which has no Records."""

    def _extract_attributes(self, event_dict: dict) -> None:
        if event_dict.get("Records"):
            super()._extract_attributes(event_dict)
        else:
            self.bucket, self.key = "", ""


def _resize(event: dict) -> None:
    with observe_invocation():
        get_pipeline().handle_event(event)


if resize_bound_by_template():
    # The packaged CloudFormation stage: infra's merge template attaches the event.
    @app.lambda_function(name="resize_image")
    def resize_image(event: dict, context: object) -> None:
        _resize(event)

else:

    @app.on_s3_event(bucket=input_bucket_name(), events=["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])
    def resize_image(event: S3Notification) -> None:
        """Every record of the event, not only the first that S3Event exposes."""
        _resize(event.to_dict())

    resize_image.event_class = S3Notification


@app.schedule(Rate(5, unit=Rate.MINUTES))
def sweep_stuck_images(event) -> None:
    """Finish uploads whose event was lost; fail those that never arrived; send due notifications."""
    from chalicelib.sweeper import sweep

    with observe_invocation():
        outcomes = sweep(get_pipeline(), time.time())
    app.log.info("sweeper resolved %d records", len(outcomes))


@app.lambda_function(name="backfill_image")
def backfill_image(event: dict, context: object) -> dict:
    """S3 Batch Operations' per-object invocation (`reprocess --batch`): render the object again."""
    from chalicelib.batch import handle_batch

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
    def trace_invocation(event, get_response):
        """Every handler (API, resize, sweeper) runs in its own subsegment."""
        return get_response(event)
