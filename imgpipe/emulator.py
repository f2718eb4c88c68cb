"""moto's S3 + DynamoDB + SQS server on one port, as the local stack's AWS.

MOTO_DISABLE_GLOBAL_CORS must be set before moto is imported: otherwise its
server lets every origin in and bucket CORS rules are never tested.
moto then answers a browser's preflight from the bucket's CORS rules, but
not the browser-form POST itself (a presigned POST upload): S3 puts the
allowed origin on that response, moto does not, and the browser discards
it. FormUploadCors adds what the bucket's own rules allow, nothing more.

Two more gaps are closed here, each by a WSGI layer in front of moto:
PostPolicyCheck (imgpipe.postpolicy) refuses form POSTs S3 would refuse, and
Serialised lets one request at a time into moto's backends, which are not
thread-safe: two conditional writes on one item could both win, where
DynamoDB's are atomic. WriteThrough then saves each change to a journaled
bucket to disk before the client hears "stored" (imgpipe.state).

When moto itself fails a call, LoudFailures (imgpipe.loudfailures) says so
once on the console and answers the client an EmulatorFailure error.

moto's Lambda would run functions in Docker; LambdaInvoke answers Lambda's
Invoke API instead, for the invocations the app makes: an async (Event)
payload goes to the function's queue, as Lambda's own async queue would hold it;
a synchronous one (the /v/ route's render) runs the handler in this process.
"""

import io
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, cast
from urllib.parse import parse_qsl, unquote, urlencode

from werkzeug.serving import make_server

from imgpipe.loudfailures import LoudFailures

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication

    from _typeshed import OptExcInfo


def _allowed_origin_headers(bucket_name: str, origin: str) -> list[tuple[str, str]]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends
    from moto.s3.utils import cors_matches_origin

    try:
        bucket = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].get_bucket(bucket_name)
    except Exception:  # not a bucket: an SQS or DynamoDB call, or a missing bucket
        return []
    for rule in bucket.cors:
        if "POST" in rule.allowed_methods and cors_matches_origin(origin, rule.allowed_origins):
            headers = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
            if rule.exposed_headers:
                headers.append(("Access-Control-Expose-Headers", ", ".join(rule.exposed_headers)))
            return headers
    return []


def _keep_status(got: list) -> "StartResponse":
    """A start_response that keeps the status and headers in `got` (moto's apps return their body
    and never call the write() a start_response returns, so this one returns none)."""
    return cast("StartResponse", lambda status, headers, exc_info=None: got.extend((status, headers)))


class FormUploadCors:
    """WSGI middleware: CORS headers on S3 form-POST responses, per the bucket's rules."""

    def __init__(self, app: "WSGIApplication") -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: "StartResponse") -> Iterable[bytes]:
        origin = environ.get("HTTP_ORIGIN")
        if environ.get("REQUEST_METHOD") != "POST" or not origin:
            return self.app(environ, start_response)
        bucket = environ.get("PATH_INFO", "").lstrip("/").split("/")[0]

        def start(
            status: str, headers: list[tuple[str, str]], exc_info: "OptExcInfo | None" = None
        ) -> Callable[[bytes], object]:
            if bucket and not any(name.lower() == "access-control-allow-origin" for name, _ in headers):
                headers = headers + _allowed_origin_headers(bucket, origin)
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def _receive_wait(environ: dict, body: bytes) -> tuple[float, bytes] | None:
    """For an SQS ReceiveMessage that long-polls: (seconds, the same request with no wait)."""
    if environ.get("HTTP_X_AMZ_TARGET") == "AmazonSQS.ReceiveMessage":  # JSON protocol
        request = json.loads(body or b"{}")
        wait = float(request.get("WaitTimeSeconds") or 0)
        return (wait, json.dumps({**request, "WaitTimeSeconds": 0}).encode()) if wait > 0 else None
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):  # query protocol
        params = dict(parse_qsl(body.decode("utf-8", "replace")))
        wait = float(params.get("WaitTimeSeconds") or 0) if params.get("Action") == "ReceiveMessage" else 0
        return (wait, urlencode({**params, "WaitTimeSeconds": "0"}).encode()) if wait > 0 else None
    return None


def _has_messages(body: bytes) -> bool:
    return b'"Messages"' in body or b"<Message>" in body


_DYNAMODB_READS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems", "DescribeTable",
                   "DescribeTimeToLive", "ListTables", "ListTagsOfResource"}


class Serialised:
    """WSGI middleware: one request at a time into each moto backend, as if it were atomic.

    DynamoDB has a lock of its own; S3 and SQS share one (an S3 write sends its
    notification to SQS). A long-polling ReceiveMessage would hold the lock for
    its whole wait, so it is turned into short polls that wait between tries
    without the lock, woken by each write that could have sent a message.
    """

    POLL_SECONDS = 0.5  # a message whose visibility timeout ends wakes no one: look again

    def __init__(self, app: "WSGIApplication") -> None:
        self.app = app
        self._dynamodb = threading.Lock()
        self._turn = threading.Condition(threading.Lock())  # S3 and SQS
        # Answered requests that may have changed a table or a bucket, one count per
        # lock (each is bumped only under its own): the periodic snapshot skips a
        # round in which `changes` did not move.
        self._table_changes = self._bucket_changes = 0

    @property
    def changes(self) -> int:
        return self._table_changes + self._bucket_changes

    def _call(self, environ: dict) -> tuple[str, list, list[bytes]]:
        """The whole response, body included, made while the lock is held."""
        got: list = []
        chunks = self.app(environ, _keep_status(got))
        try:
            body = list(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        return got[0], got[1], body

    def __call__(self, environ: dict, start_response: "StartResponse") -> Iterable[bytes]:
        from werkzeug.wsgi import get_input_stream

        # The body is read before the lock: a slow client must not hold up every other one.
        body = get_input_stream(environ).read()
        environ = {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
        environ.pop("HTTP_TRANSFER_ENCODING", None)  # now a plain body of CONTENT_LENGTH bytes
        poll = _receive_wait(environ, body)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith("DynamoDB"):
            with self._dynamodb:
                status, headers, chunks = self._call(environ)
                self._table_changes += target.partition(".")[2] not in _DYNAMODB_READS
            start_response(status, headers)
            return chunks
        with self._turn:
            if poll is None:
                status, headers, chunks = self._call(environ)
                if environ.get("REQUEST_METHOD") in ("PUT", "POST", "DELETE"):
                    self._bucket_changes += not target  # S3 is the one without X-Amz-Target
                    self._turn.notify_all()
            else:
                status, headers, chunks = self._long_poll(environ, *poll)
        start_response(status, headers)
        return chunks

    def _long_poll(self, environ: dict, wait: float, short: bytes) -> tuple[str, list, list[bytes]]:
        deadline = time.monotonic() + wait
        while True:
            status, headers, chunks = self._call(
                {**environ, "wsgi.input": io.BytesIO(short), "CONTENT_LENGTH": str(len(short))})
            left = deadline - time.monotonic()
            if left <= 0 or not status.startswith("200") or _has_messages(b"".join(chunks)):
                return status, headers, chunks
            self._turn.wait(min(left, self.POLL_SECONDS))  # the lock is free meanwhile


def _written_bucket(environ: dict, buckets: set[str]) -> str | None:
    """The journaled bucket a PUT/POST/DELETE request changes, path- or host-style."""
    if environ.get("REQUEST_METHOD") not in ("PUT", "POST", "DELETE"):
        return None
    from imgpipe.postpolicy import form_bucket

    bucket = form_bucket(environ)
    return bucket if bucket in buckets else None


def bucket_objects(bucket_name: str) -> tuple[dict[str, tuple[str, str]], Callable[[str], tuple[bytes, dict]]]:
    """(key -> (ETag, LastModified), read(key) -> (bytes, headers)) straight from moto's
    backend: call under the lock."""
    from imgpipe.state import utc_iso

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import FakeKey, s3_backends

    bucket = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].get_bucket(bucket_name)
    objects = {key: obj for key, obj in bucket.keys.items() if isinstance(obj, FakeKey)}

    def read(key: str) -> tuple[bytes, dict]:
        obj = objects[key]
        meta = obj.metadata
        headers = {"ContentType": meta.get("content-type"), "CacheControl": meta.get("cache-control"),
                   "Metadata": {k.removeprefix("x-amz-meta-"): v for k, v in meta.items()
                                if k.lower().startswith("x-amz-meta-")}}
        return obj.value, {k: v for k, v in headers.items() if v}

    return {key: (obj.etag, utc_iso(obj.last_modified)) for key, obj in objects.items()}, read


def set_identity(bucket_name: str, key: str, identity: tuple[str, str]) -> None:
    """Give a restored object its saved ETag and LastModified back (a put made new ones).

    moto computes an ETag only when it has none (FakeKey._etag), and a multipart
    upload's `…-N` cannot be computed from the bytes: it is set as it was."""
    import datetime

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    etag, last_modified = identity
    obj = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].get_bucket(bucket_name).keys[key]
    obj._etag = etag.strip('"')
    obj.last_modified = datetime.datetime.fromisoformat(last_modified)


class WriteThrough:
    """WSGI middleware, inside Serialised: after moto accepts a change to a journaled
    bucket, `save(bucket)` runs before the response leaves, so what a client was told
    is stored survives a SIGKILL. Off until `enabled` (a restore need not be saved)."""

    def __init__(self, app: "WSGIApplication", buckets: set[str], save: Callable[[str], None]) -> None:
        self.app, self.buckets, self.save = app, buckets, save
        self.enabled = False

    def __call__(self, environ: dict, start_response: "StartResponse") -> Iterable[bytes]:
        bucket = _written_bucket(environ, self.buckets) if self.enabled else None
        if bucket is None:
            return self.app(environ, start_response)
        got: list = []
        chunks = list(self.app(environ, _keep_status(got)))
        if got[0][:1] == "2":
            self.save(bucket)
        start_response(*got)
        return chunks


_LAMBDA_PATH = re.compile(r"^/20[0-9]{2}-[0-9]{2}-[0-9]{2}/functions(/|$)")
_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")


def function_name(name_or_arn: str) -> str:
    """`name`, `123456789012:function:name` or a full ARN, with or without a qualifier → `name`."""
    return name_or_arn.split(":function:")[-1].split(":")[0]


class LambdaInvoke:
    """WSGI middleware: Lambda's Invoke API, InvocationType=Event, for the functions in
    `functions` (name → what receives the payload bytes); 202 with no body, as Lambda.

    RequestResponse invocations of the functions in `synchronous` (name → handler of the
    payload bytes, returning the answer's bytes) answer 200 with the handler's result, and
    an exception as Lambda reports one: 200, `X-Amz-Function-Error: Unhandled`, and
    `{"errorMessage", "errorType"}`.

    Every other Lambda call (another function, the other invocation type, any other
    operation) is refused as Lambda refuses an unknown function. The tables are
    filled once the stack has made the queues (`functions[name] = send`).
    """

    def __init__(self, app: "WSGIApplication") -> None:
        self.app = app
        self.functions: dict[str, Callable[[bytes], None]] = {}
        self.synchronous: dict[str, Callable[[bytes], bytes]] = {}

    def __call__(self, environ: dict, start_response: "StartResponse") -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not _LAMBDA_PATH.match(path):
            return self.app(environ, start_response)
        from moto.core import DEFAULT_ACCOUNT_ID  # ARNs in error messages look like AWS's
        from werkzeug.wsgi import get_input_stream

        invoke = _INVOKE_PATH.match(path)
        name = function_name(unquote(invoke["name"])) if invoke else ""
        kind = environ.get("HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse")
        send = self.functions.get(name) if kind == "Event" else None
        run = self.synchronous.get(name) if kind == "RequestResponse" else None
        if environ.get("REQUEST_METHOD") != "POST" or (send is None and run is None):
            what = f"arn:aws:lambda:{_region(environ)}:{DEFAULT_ACCOUNT_ID}:function:{name}" if name else "Function"
            return _lambda_error(start_response, "404 Not Found", "ResourceNotFoundException",
                                 f"Function not found: {what}")
        payload = get_input_stream(environ).read()
        try:
            json.loads(payload or b"{}")
        except ValueError:  # Lambda takes JSON only
            return _lambda_error(start_response, "400 Bad Request", "InvalidRequestContentException",
                                 "Could not parse request body into json")
        if run is not None:
            return _run_synchronously(run, payload or b"{}", start_response)
        assert send is not None
        send(payload or b"{}")
        start_response("202 Accepted", [("Content-Length", "0")])
        return [b""]


def _run_synchronously(run: Callable[[bytes], bytes], payload: bytes, start_response: "StartResponse") -> list[bytes]:
    """A RequestResponse invocation's answer, as Lambda gives it (a failure is a 200 too)."""
    headers = [("Content-Type", "application/json")]
    try:
        body = run(payload)
    except Exception as exc:  # the function failed: Lambda answers 200 and names the error
        body = json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__}).encode()
        headers.append(("X-Amz-Function-Error", "Unhandled"))
    start_response("200 OK", [*headers, ("Content-Length", str(len(body)))])
    return [body]


def _lambda_error(start_response: "StartResponse", status: str, code: str, message: str) -> list[bytes]:
    """An error as Lambda's REST-JSON protocol sends it: botocore reads the code from the header."""
    body = json.dumps({"Type": "User", "message": message}).encode()
    start_response(status, [("Content-Type", "application/json"), ("X-Amzn-ErrorType", code),
                            ("Content-Length", str(len(body)))])
    return [body]


def _region(environ: dict) -> str:
    """The region in the request's SigV4 credential scope, as Lambda names it in ARNs."""
    scope = r"Credential=[^/]+/[0-9]{8}/([a-z0-9-]+)/lambda/"
    match = re.search(scope, environ.get("HTTP_AUTHORIZATION", ""))
    return match[1] if match else "us-east-1"


class AwsEmulator:
    """moto's server in a thread, bound to `host` only (moto's default is 0.0.0.0).

    `credentials` (access key -> secret) are the keys form POSTs may be signed with.
    """

    def __init__(self, host: str, port: int, credentials: dict[str, str],
                 journal: Callable[[str], None] | None = None, journaled: Iterable[str] = ()) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

        from imgpipe import fastjson
        from imgpipe.postpolicy import PostPolicyCheck

        fastjson.install()
        self.write_through = WriteThrough(LoudFailures(DomainDispatcherApplication(create_backend_app)), set(journaled),
                                          journal or (lambda bucket: None))
        self.serialised = Serialised(self.write_through)
        self.lambda_invoke = LambdaInvoke(FormUploadCors(PostPolicyCheck(self.serialised, credentials)))
        app = self.lambda_invoke
        # TCP_NODELAY: a small answer written after its headers waited ~40 ms for the client's ACK.
        handler = type("NoDelayHandler", (MotoRequestHandler,), {"disable_nagle_algorithm": True})
        self._server = make_server(host, port, app, threaded=True, request_handler=handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="imgpipe-aws", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def set_identity(self, bucket: str, key: str, identity: tuple[str, str]) -> None:
        """set_identity, one request at a time with the others."""
        with self.serialised._turn:
            set_identity(bucket, key, identity)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
