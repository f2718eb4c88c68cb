"""Once-only reporting of the local AWS emulator's own failures: LoudFailures turns an exception
inside moto into one console line and an EmulatorFailure answer; QuietEmulatorFailures drops the
per-call tracebacks of such answers from the stack's log.

When moto itself fails a call (a bug, or an extra of moto's missing from the
install), the console says so once, in one line: the per-image tracebacks of
the same failure would only bury the line.
"""

import json
import logging
import threading
from collections.abc import Iterable
from typing import Any

# The emulator's logger, as before this module was split from it: filters and tests name it.
log = logging.getLogger("imgpipe.emulator")

EMULATOR_FAILURE = "EmulatorFailure"  # the error code of a call moto failed (LoudFailures)


def _operation(environ: dict) -> str:
    """`events PutEvents`, `s3 PUT /bucket/key`: what a request asked, for a person."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        service, _, action = target.partition(".")
        return f"{service} {action}"
    return f"{environ.get('REQUEST_METHOD', '?')} {environ.get('PATH_INFO', '/')}"


def failure_hint(exc: BaseException) -> str:
    """What to do about a failure of the emulator's own code."""
    if isinstance(exc, ImportError):
        return ("the stack's install lacks a module moto needs: reinstall it with "
                "`rm .venv/.run-installed && make run`")
    return "a fault in the local emulator, not in imgpipe; calls that need it will keep failing"


class LoudFailures:
    """WSGI middleware, next to moto: an exception inside moto becomes one console line
    (once per distinct failure) and an EmulatorFailure error to the client."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._said: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Any) -> Iterable[bytes]:
        got: list = []
        try:
            chunks = list(self.app(environ, lambda status, headers, exc_info=None: got.extend((status, headers))))
        except Exception as exc:
            return self._fail(environ, exc, start_response)
        start_response(*got)
        return chunks

    def _fail(self, environ: dict, exc: Exception, start_response: Any) -> list[bytes]:
        what, operation = f"{type(exc).__name__}: {exc}", _operation(environ)
        kind = (operation.split(" ")[0], what)
        with self._lock:
            first = kind not in self._said
            self._said.add(kind)
        if first:
            log.error("THE LOCAL AWS EMULATOR FAILED a call (%s): %s; %s. Said once; later failures "
                      "of the same kind are not repeated.", operation, what, failure_hint(exc))
        message = f"the local AWS emulator failed this call: {what}"
        if environ.get("HTTP_X_AMZ_TARGET"):  # the JSON protocols (DynamoDB, SQS, EventBridge)
            body = json.dumps({"__type": EMULATOR_FAILURE, "message": message}).encode()
            content_type = "application/x-amz-json-1.1"
        else:  # S3's REST-XML
            from xml.sax.saxutils import escape

            body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{EMULATOR_FAILURE}</Code>"
                    f"<Message>{escape(message)}</Message></Error>").encode()
            content_type = "application/xml"
        start_response("500 Internal Server Error", [("Content-Type", content_type), ("X-Amzn-ErrorType", EMULATOR_FAILURE),
                                                     ("Content-Length", str(len(body)))])
        return [body]


class QuietEmulatorFailures(logging.Filter):
    """A log filter: drops records whose exception is an EmulatorFailure answer (LoudFailures
    has said it once already), so one broken emulator call is not a traceback per image."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            response = getattr(exc, "response", None)  # botocore's ClientError
            if isinstance(response, dict) and response.get("Error", {}).get("Code") == EMULATOR_FAILURE:
                return False
            exc = exc.__cause__ or exc.__context__
        return True
