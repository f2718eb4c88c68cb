"""An HTTP client of the imgpipe API, as any web or mobile client would be.

POST /uploads, then the presigned POST straight to S3, then GET /images/{id}
until the record is final. Used by `upload` and `status`.
"""

import io
import mimetypes
import time
from collections.abc import Callable
from pathlib import Path

import requests
from urllib3 import encode_multipart_formdata

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


def content_type_of(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


class ApiClient:
    def __init__(self, api: str, timeout: float = 30) -> None:
        self.api = api.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()

    def _json(self, response: requests.Response) -> dict:
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                error = {"code": f"http_{response.status_code}", "message": response.text[:200]}
            raise RefusedError(error.get("code", "error"), error.get("message", ""))
        return response.json()

    def upload(self, path: Path, on_progress: Callable[[int], None] = lambda n: None) -> str:
        """Upload one file; returns its image id. Raises RefusedError."""
        data, content_type = path.read_bytes(), content_type_of(path)
        issued = self.issue(path.name, content_type, len(data))
        self.post_form(issued["upload"], path.name, data, content_type, on_progress)
        return issued["image_id"]

    def issue(self, filename: str, content_type: str, size: int) -> dict:
        """POST /uploads: the image id and the presigned form."""
        return self._json(self.http.post(
            f"{self.api}/uploads",
            json={"filename": filename, "content_type": content_type, "size": size},
            timeout=self.timeout,
        ))

    def post_form(
        self, upload: dict, filename: str, data: bytes, content_type: str,
        on_progress: Callable[[int], None] = lambda n: None,
    ) -> None:
        """The presigned POST straight to S3. Raises RefusedError."""
        # The file must be the last field of the form: S3 ignores fields after it.
        fields = [*upload["fields"].items(), ("file", (filename, data, content_type))]
        body, form_type = encode_multipart_formdata(fields)
        posted = self.http.post(
            upload["url"], data=_ProgressBody(body, on_progress),
            headers={"Content-Type": form_type}, timeout=max(self.timeout, 300),
        )
        if posted.status_code >= 300:
            raise RefusedError(f"s3_{posted.status_code}", posted.text[:300])

    def image(self, image_id: str) -> dict:
        return self._json(self.http.get(f"{self.api}/images/{image_id}", timeout=self.timeout))

    def images(self, limit: int, status: str | None = None) -> list[dict]:
        params = {"limit": str(limit), **({"status": status} if status else {})}
        return self._json(self.http.get(f"{self.api}/images", params=params, timeout=self.timeout))["items"]

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
