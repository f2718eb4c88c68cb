"""An HTTP client of the imgpipe API, as any web or mobile client would be.

POST /uploads, then the presigned POST straight to S3, then GET /images/{id}
until the record is final. Used by `upload`, `status` and the load test.
The standard library's urllib, not requests: `status` starts in under a
quarter of a second (requests and urllib3 alone took ~100 ms to import);
urllib3's form encoder is imported by an upload only.
"""

import io
import json
import mimetypes
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

FINAL = ("COMPLETE", "FAILED")


class RefusedError(Exception):
    """The API refused the upload (400, 413, 415): `code` and a message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class _ProgressBody(io.BytesIO):
    """A request body that reports how much of it has been sent."""

    def __init__(self, data: bytes, on_read: Callable[[int], None]) -> None:
        super().__init__(data)
        self._on_read = on_read

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self._on_read(len(chunk))
        return chunk


# Types the standard library's mimetypes does not know (or, for HEIC/AVIF, only on some
# Python versions): an MPO is a JPEG with more pictures after the first.
_TYPE_BY_EXTENSION = {".mpo": "image/jpeg", ".heic": "image/heic", ".heif": "image/heif", ".avif": "image/avif",
                      ".webp": "image/webp"}


def content_type_of(path: Path) -> str:
    known = _TYPE_BY_EXTENSION.get(path.suffix.lower())
    return known or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


class NotTheApiError(RefusedError):
    """Something answered, but not as the imgpipe API does (another server on that port)."""

    def __init__(self, message: str) -> None:
        super().__init__("not_the_api", message)


def _what_it_is(answer: bytes) -> str:
    start = answer.lstrip()[:200].lower()
    if start.startswith((b"<!doctype html", b"<html")) or b"<html" in start:
        return "an HTML page"
    if start.startswith(b"<"):
        return "an XML document"
    return "a body that is not JSON" if start else "an empty body"


class UnreachableError(OSError):
    """No answer from the server (refused, timed out, cut off), said for a person."""


def _reason(exc: OSError) -> str:
    """"Connection refused", "timed out"…: the cause in words, not a repr."""
    cause = getattr(exc, "reason", exc)
    return getattr(cause, "strerror", None) or str(cause)


class ApiClient:
    def __init__(self, api: str, timeout: float = 30) -> None:
        self.api = api.rstrip("/")
        self.timeout = timeout

    def request(self, method: str, url: str, body: bytes | io.IOBase | None = None,
                headers: dict[str, str] | None = None, timeout: float | None = None) -> tuple[int, bytes]:
        """(status, body) of any answer, 4xx and 5xx included; UnreachableError without one."""
        request = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as answer:
            with answer:
                return answer.code, answer.read()
        except OSError as exc:  # URLError, timeouts and resets are all OSErrors
            where = urllib.parse.urlsplit(url)
            raise UnreachableError(f"{where.scheme}://{where.netloc} does not answer ({_reason(exc)})") from exc

    def _json(self, method: str, path: str, document: dict | None = None) -> dict:
        body = None if document is None else json.dumps(document).encode()
        headers = {} if document is None else {"Content-Type": "application/json"}
        status, answer = self.request(method, f"{self.api}{path}", body, headers)
        try:
            document = json.loads(answer)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise NotTheApiError(f"{self.api} is not the imgpipe API (it answered HTTP {status} with "
                                 f"{_what_it_is(answer)}); give the stack's API with --api or IMGPIPE_API")
        if status >= 400:  # the API's error, or API Gateway's own {"message": …}
            error = document.get("error")
            if not isinstance(error, dict):
                error = {"code": f"http_{status}", "message": str(document.get("message", ""))[:200]}
            raise RefusedError(error.get("code", "error"), error.get("message", ""))
        return document

    def upload(self, path: Path, on_progress: Callable[[int], None] = lambda n: None) -> str:
        """Upload one file; returns its image id. Raises RefusedError."""
        data, content_type = path.read_bytes(), content_type_of(path)
        issued = self.issue(path.name, content_type, len(data))
        self.post_form(issued["upload"], path.name, data, content_type, on_progress)
        return issued["image_id"]

    def issue(self, filename: str, content_type: str, size: int) -> dict:
        """POST /uploads: the image id and the presigned form."""
        issue = {"filename": filename, "content_type": content_type, "size": size}
        return self._json("POST", "/uploads", issue)

    def post_form(
        self, upload: dict, filename: str, data: bytes, content_type: str,
        on_progress: Callable[[int], None] = lambda n: None,
    ) -> None:
        """The presigned POST straight to S3. Raises RefusedError."""
        from urllib3 import encode_multipart_formdata  # ~50 ms: only an upload pays it

        # The file must be the last field of the form: S3 ignores fields after it.
        file = ("file", (filename, data, content_type))
        body, form_type = encode_multipart_formdata([*upload["fields"].items(), file])
        status, answer = self.request(
            "POST", upload["url"], _ProgressBody(body, on_progress),
            {"Content-Type": form_type, "Content-Length": str(len(body))}, timeout=max(self.timeout, 300),
        )
        if status >= 300:
            raise RefusedError(f"s3_{status}", answer[:300].decode(errors="replace"))

    def image(self, image_id: str) -> dict:
        return self._json("GET", f"/images/{urllib.parse.quote(image_id, safe='')}")

    def images(self, limit: int, status: str | None = None) -> list[dict]:
        query = urllib.parse.urlencode({"limit": str(limit), **({"status": status} if status else {})})
        return self._json("GET", f"/images?{query}")["items"]

    def wait(
        self, image_id: str, timeout: float, on_status: Callable[[str], None] = lambda s: None,
        max_delay: float = 2,
    ) -> dict:
        """Poll until COMPLETE or FAILED, backing off to `max_delay` s; the last
        record seen if time runs out."""
        deadline, delay = time.monotonic() + timeout, min(0.3, max_delay)
        while True:
            record = self.image(image_id)
            on_status(record["status"])
            if record["status"] in FINAL or time.monotonic() > deadline:
                return record
            time.sleep(delay)
            delay = min(delay * 1.5, max_delay)
