"""The API's HTTP policy: which routes AUTH guards, which status a domain error gets,
the one error body, CORS, request bodies and the base URL of links.

app.py decorates the routes with it. Every error anyone answers, Chalice's own,
the local stack's gateway (imgpipe/gateway.py) and API Gateway's gateway
responses (deploy/apigw.py) too, has the body of `error_body`. (Not `http.py`:
that name is the standard library's, which notify.py needs.)
"""

import functools
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

from chalice import Chalice, CognitoUserPoolAuthorizer, IAMAuthorizer, Response
from chalice.app import Request

from chalicelib.config import Settings, cognito_user_pool_arn
from chalicelib.errors import (
    BodyTooLargeError,
    ImageConflictError,
    ImageNotFoundError,
    ImgpipeError,
    InvalidRequestError,
    PayloadTooLargeError,
    QuotaExceededError,
    RenderBusyError,
    UnsupportedMediaTypeError,
    VariantForbiddenError,
)

# An upload request is a few hundred bytes; refuse megabytes before parsing.
MAX_BODY_BYTES = 16 * 1024
STATUS_OF = [
    (PayloadTooLargeError, 413),
    (UnsupportedMediaTypeError, 415),
    (InvalidRequestError, 400),
    (ImageNotFoundError, 404),
    (ImageConflictError, 409),
    (VariantForbiddenError, 403),
    (QuotaExceededError, 429),
    (RenderBusyError, 503),
]
INTERNAL_ERROR = ("internal_error", "An internal error occurred.")
CORS_HEADERS = {
    "Access-Control-Allow-Methods": "GET,POST,PATCH,DELETE,OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type,Authorization,X-Api-Key",
    "Access-Control-Max-Age": "600",
    "Vary": "Origin",
}


def route_guard(auth: str) -> dict[str, bool | CognitoUserPoolAuthorizer | IAMAuthorizer | None]:
    """`api_key_required` and `authorizer` for the routes AUTH guards. api.request_owner reads
    the caller from the key id, the token's `sub` or the IAM user: each sees only its images."""
    authorizer: CognitoUserPoolAuthorizer | IAMAuthorizer | None = None
    if auth == "cognito":
        authorizer = CognitoUserPoolAuthorizer("imgpipe-users", provider_arns=[cognito_user_pool_arn()])
    elif auth == "iam":
        authorizer = IAMAuthorizer()
    return {"api_key_required": auth == "api_key", "authorizer": authorizer}


def error_body(code: str, message: str) -> dict:
    """`{"error": {"code", "message"}}`: the body of every error the API answers."""
    return {"error": {"code": code, "message": message}}


def error_response(code: str, message: str, status: int) -> Response:
    return Response(error_body(code, message), status_code=status)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def json_errors(log: logging.Logger) -> Callable[[Callable[_P, _R]], Callable[_P, _R | Response]]:
    """A route decorator: domain errors become their status code with a JSON body, never a trace."""

    def decorate(view: Callable[_P, _R]) -> Callable[_P, _R | Response]:
        @functools.wraps(view)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R | Response:
            try:
                return view(*args, **kwargs)
            except ImgpipeError as exc:
                status = next((s for cls, s in STATUS_OF if isinstance(exc, cls)), 500)
                if status == 500:
                    log.exception("request failed")
                    return error_response(*INTERNAL_ERROR, 500)
                return error_response(exc.code, exc.message, status)

        return wrapper

    return decorate


def reason_code(chalice_code: str) -> str:
    """`MethodNotAllowedError` → `method_not_allowed`; a 500 is `internal_error`."""
    if chalice_code == "InternalServerError":
        return "internal_error"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", chalice_code.removesuffix("Error")).lower()


def shape_response(
    request: Request, get_response: Callable, settings: Callable[[], Settings], log: logging.Logger
) -> Response:
    """Give every error, Chalice's own (405, 415, 500) too, our shape; add CORS.

    Chalice's CORSConfig allows a single origin per route, ALLOWED_ORIGINS may
    list several, so the Origin header is matched here for every route.
    """
    try:
        response = get_response(request)
    except Exception:  # outside a json_errors route (e.g. a middleware): still our shape
        log.exception("request failed")
        response = error_response(*INTERNAL_ERROR, 500)
    body = response.body
    if isinstance(body, dict) and {"Code", "Message"} <= set(body):  # even with keys added after
        response.body = error_body(reason_code(body["Code"]), body["Message"])
    response.headers["X-Content-Type-Options"] = "nosniff"
    origin = request.headers.get("origin")
    allowed = settings().allowed_origins
    if origin and ("*" in allowed or origin in allowed):
        response.headers.update({"Access-Control-Allow-Origin": "*" if "*" in allowed else origin,
                                 **CORS_HEADERS})
    return response


def base_url(request: Request) -> str:
    """Where this API answers, for the links it hands out."""
    headers = request.headers
    host = headers.get("host", "localhost")
    proto = headers.get("x-forwarded-proto", "http")
    stage = (request.context or {}).get("stage")
    # The execute-api domain carries the stage in the path; custom domains do not.
    prefix = f"/{stage}" if stage and host.endswith(".amazonaws.com") else ""
    return f"{proto}://{host}{prefix}"


def json_body(request: Request) -> object:
    if len(request.raw_body or b"") > MAX_BODY_BYTES:
        raise BodyTooLargeError(f"request bodies are limited to {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(request.raw_body or b"")
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequestError("body must be valid JSON") from None
    except RecursionError:  # thousands of nested arrays fit in 16 KB
        raise InvalidRequestError("body is nested too deeply") from None


def current_request(app: Chalice) -> Request:
    """The request a route is answering (Chalice sets it before calling the route; its local
    server keeps one per thread)."""
    request = app.current_request
    if request is None:
        raise RuntimeError("no current request: only a route may ask for it")
    return request


def html(page: str) -> Response:
    return Response(page, headers={"Content-Type": "text/html; charset=utf-8"})


@functools.cache
def upload_page(sign_in_url: str = "", client_id: str = "") -> str:
    """The upload page (GET /), read once per cold start, told where to sign in (SIGN_IN_URL)."""
    page = (Path(__file__).parent / "static" / "upload.html").read_text("utf-8")
    config = json.dumps({"url": sign_in_url, "client_id": client_id}).replace("<", "\\u003c")
    return page.replace('<script id="sign-in-config" type="application/json">{}</script>',
                        f'<script id="sign-in-config" type="application/json">{config}</script>', 1)
