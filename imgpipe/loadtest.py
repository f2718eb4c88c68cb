"""Load through a running stack: many clients upload at once, some twice, some hostile.

Every upload must reach the final state its bytes deserve, with every
rendition fetchable; the report gives throughput and the time from the end of
each upload to its final state. `python -m imgpipe loadtest` (and
`make loadtest`) run it; tests/test_loadtest.py runs a small one.
"""

import contextlib
import io
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from imgpipe.client import FINAL, ApiClient, RefusedError, UnreachableError
from imgpipe.stackprocess import StackProcess



@dataclass
class Upload:
    number: int
    name: str
    data: bytes
    expected: str  # COMPLETE, or the reason code of a FAILED record
    duplicate: bool = False
    image_id: str = ""
    uploaded_at: float = 0.0
    final_at: float = 0.0
    record: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def make_uploads(count: int, hostile_every: int = 10, duplicate_every: int = 10) -> list[Upload]:
    """Photos of varied sizes; every `hostile_every`-th is broken, every
    `duplicate_every`-th (offset by half) is posted twice to the same form."""
    uploads = []
    for n in range(count):
        if hostile_every and n % hostile_every == hostile_every - 1:
            broken = _photo(n, 800, 600)[:2000] if n % 2 else b"<html>not an image</html>" * 10
            code = "corrupt_image" if n % 2 else "unsupported_format"
            uploads.append(Upload(n, f"hostile-{n}.jpg", broken, code))
            continue
        width, height = (640, 480) if n % 3 else (1600, 1200)
        duplicate = bool(duplicate_every) and n % duplicate_every == duplicate_every // 2
        uploads.append(Upload(n, f"photo {n}.jpg", _photo(n, width, height), "COMPLETE", duplicate))
    return uploads


def _photo(seed: int, width: int, height: int) -> bytes:
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    image.paste(((seed * 37) % 256, (seed * 91) % 256, 128), (width // 4, height // 4, width // 2, height // 2))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def _send(upload: Upload, client: ApiClient) -> None:
    try:
        issued = client.issue(upload.name, "image/jpeg", len(upload.data))
        upload.image_id = issued["image_id"]
        for _ in range(2 if upload.duplicate else 1):  # a duplicate: the same bytes to the same key
            client.post_form(issued["upload"], upload.name, upload.data, "image/jpeg")
    except RefusedError as exc:
        upload.problems.append(f"refused: {exc.code}: {exc}")
        return
    except UnreachableError as exc:  # a client that could not get through is a finding
        upload.problems.append(f"network error: {exc}")
        return
    upload.uploaded_at = time.monotonic()


def _check(upload: Upload, client: ApiClient) -> None:
    record = upload.record
    got = record.get("status") if upload.expected == "COMPLETE" else record.get("error", {}).get("code")
    if got != upload.expected:
        upload.problems.append(f"ended {record.get('status')} {record.get('error')}, expected {upload.expected}")
        return
    for rendition in record.get("renditions", []):
        status, body = client.request("GET", rendition["url"])
        if status != 200 or len(body) != rendition["bytes"]:
            upload.problems.append(f"rendition {rendition['key']} answered {status}")
    if upload.expected == "COMPLETE" and not record.get("renditions"):
        upload.problems.append("COMPLETE without renditions")
    if upload.duplicate and record.get("attempts") != 1:
        upload.problems.append(f"duplicate delivery processed {record.get('attempts')} times")


def run_load(api: str, uploads: list[Upload], clients: int, timeout: float = 600) -> dict:
    """Upload everything with `clients` concurrent clients; return the report."""
    per_thread = threading.local()  # one ApiClient, one HTTP session, per client thread
    started = time.monotonic()

    def one(upload: Upload) -> None:
        if not hasattr(per_thread, "client"):
            per_thread.client = ApiClient(api)
        client = per_thread.client
        _send(upload, client)
        if upload.image_id and not upload.problems:
            remaining = max(0.0, started + timeout - time.monotonic())
            # Polled every 0.2 s: the poll interval bounds how exactly latency is measured.
            upload.record = client.wait(upload.image_id, remaining, max_delay=0.2)
            if upload.record["status"] in FINAL:
                upload.final_at = time.monotonic()
            else:
                upload.problems.append(f"still {upload.record['status']} at the deadline")
        if upload.final_at:
            _check(upload, client)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, uploads))
    elapsed = time.monotonic() - started
    latencies = sorted(u.final_at - u.uploaded_at for u in uploads if u.final_at)
    return {
        "uploads": len(uploads),
        "clients": clients,
        "duplicates": sum(u.duplicate for u in uploads),
        "hostile": sum(u.expected != "COMPLETE" for u in uploads),
        "seconds": round(elapsed, 1),
        "images_per_second": round(len(uploads) / elapsed, 2),
        "p50_seconds": round(statistics.median(latencies), 2) if latencies else None,
        "p95_seconds": round(latencies[int(0.95 * (len(latencies) - 1))], 2) if latencies else None,
        "problems": {f"{u.number} {u.name}": u.problems for u in uploads if u.problems},
    }


@contextlib.contextmanager
def spawned_stack(workers: int = 2) -> Iterator[StackProcess]:
    """`python -m imgpipe run` on free ports with empty state, stopped at the end."""
    with tempfile.TemporaryDirectory(prefix="imgpipe-stack-") as state:
        stack = StackProcess(Path(state) / "state", "--workers", str(workers))
        stack.start(timeout=120)
        try:
            yield stack
        finally:
            try:
                stack.stop()
            finally:
                stack.kill()
