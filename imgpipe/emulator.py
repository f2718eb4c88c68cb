"""moto's S3 + DynamoDB + SQS server on one port, as the local stack's AWS.

MOTO_DISABLE_GLOBAL_CORS must be set before moto is imported: otherwise its
server lets every origin in and bucket CORS rules are never tested.
moto then answers a browser's preflight from the bucket's CORS rules, but
not the browser-form POST itself (a presigned POST upload): S3 puts the
allowed origin on that response, moto does not, and the browser discards
it. FormUploadCors adds what the bucket's own rules allow, nothing more.
"""

import threading
from typing import Any

from werkzeug.serving import make_server


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


class FormUploadCors:
    """WSGI middleware: CORS headers on S3 form-POST responses, per the bucket's rules."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Any) -> Any:
        origin = environ.get("HTTP_ORIGIN")
        if environ.get("REQUEST_METHOD") != "POST" or not origin:
            return self.app(environ, start_response)
        bucket = environ.get("PATH_INFO", "").lstrip("/").split("/")[0]

        def start(status: str, headers: list, exc_info: Any = None) -> Any:
            if bucket and not any(name.lower() == "access-control-allow-origin" for name, _ in headers):
                headers = headers + _allowed_origin_headers(bucket, origin)
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


class AwsEmulator:
    """moto's server in a thread, bound to `host` only (moto's default is 0.0.0.0)."""

    def __init__(self, host: str, port: int) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

        app = FormUploadCors(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="imgpipe-aws", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
