"""`python -m bench.e2e`: end-to-end latency and concurrent lists on a fresh local stack.

1. One 12 MP photo uploaded through the API (POST /uploads, presigned POST)
   `--uploads` times, one after another; for each, the upload time, the time
   from the end of the upload until the record says PROCESSING (event
   delivery: S3 → SQS → worker long-poll → handler claims the record; polled
   every 20 ms), and from there to COMPLETE (S3 read, imaging, S3 writes,
   DynamoDB; the `updated_at` the final write stamps just before it lands,
   polled every 0.25 s so that polls do
   not take the worker's CPU); p50/p95. The imaging part alone is measured in this process
   (process_image with the default renditions, warm), for comparison.
2. `--lists` concurrent GET /images of 25 COMPLETE records each (small photos
   top the uploads up to 25): p50/p95 per request.
3. Where PROCESSING → COMPLETE goes: the handler's own code (ImagePipeline,
   S3Storage, DynamoStatusStore) replayed in this process against the same
   running stack's moto server, `--uploads` times, each S3 and DynamoDB call and
   process_image timed (wall, and CPU for the imaging). The objects go to a
   bucket of their own without notifications, so the stack's worker never races
   the replay; the calls, the server and the load are the real run's.

The stack is `python -m imgpipe run` on free ports (imgpipe.loadtest), so
event delivery (S3 → SQS → worker), S3 and DynamoDB round trips through moto
and the imaging are all in the numbers.
"""

import argparse
import os
import statistics
import tempfile
import time
from datetime import datetime
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from imgpipe.client import ApiClient
from imgpipe.localstage import stage_environment
from imgpipe.loadtest import spawned_stack
from imgpipe.stackprocess import StackProcess

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # the replay's handler logs a line per image
PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "photos"
PHOTO = PHOTOS / "L03_ianare_42_IndexError_12mp.jpg"
PAGE = 25  # records in one GET /images of the concurrent lists
WRITES = "S3 writes (a thread, during the imaging)"


def _p(values: list[float], q: float) -> float:
    """The q-quantile, interpolated between ranks (p50 of an even count is the median)."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def imaging_seconds(photo: Path, runs: int = 5) -> list[float]:
    """CPU seconds of process_image with the handler's default outputs, warm."""
    from chalicelib.imaging import process_image, rendition_outputs
    from imgpipe.resize import local_settings

    data, settings = photo.read_bytes(), local_settings()
    outputs = rendition_outputs(settings)
    process_image(data, outputs, settings.max_pixels)
    times = []
    for _ in range(runs):
        started = time.process_time()
        process_image(data, outputs, settings.max_pixels)
        times.append(time.process_time() - started)
    return times


class Timed:
    """Every method call of `inner` adds its wall time to `totals[category]`
    (`categories` names some methods' own)."""

    def __init__(self, inner, category: str, totals: dict[str, float],
                 categories: dict | None = None) -> None:
        self._inner, self._category, self._totals = inner, category, totals
        self._categories = categories or {}

    def __getattr__(self, name: str):
        attribute = getattr(self._inner, name)
        if not callable(attribute):
            return attribute

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return attribute(*args, **kwargs)
            finally:
                self._totals[self._categories.get(name, self._category)] += time.perf_counter() - started
        return timed


def breakdown(stack: StackProcess, photo: Path, runs: int) -> dict[str, list[float]]:
    """Per replay of the handler on `photo`: seconds in S3 calls, DynamoDB calls,
    imaging (wall and CPU), the rest, and the whole process_object."""
    import boto3

    from chalicelib import pipeline
    from chalicelib.config import load_settings
    from chalicelib.status import DynamoStatusStore
    from chalicelib.storage import S3_CLIENT_CONFIG, S3Storage

    env = stage_environment()
    bucket = "imgpipe-bench-replay"
    settings = load_settings({**env, "INPUT_BUCKET": bucket})
    endpoint = {"endpoint_url": stack.aws_url, "region_name": "us-east-1",
                "aws_access_key_id": "local", "aws_secret_access_key": "local"}
    s3 = boto3.client("s3", config=S3_CLIENT_CONFIG, **endpoint)
    s3.create_bucket(Bucket=bucket)
    table = boto3.resource("dynamodb", **endpoint).Table(settings.status_table)
    totals: dict[str, float] = {}
    # Renditions are written on a thread of their own while the imaging goes on.
    storage = Timed(S3Storage(s3, bucket, settings.output_bucket), "S3 reads", totals,
                    {"write_rendition": WRITES})
    store = Timed(DynamoStatusStore(table), "DynamoDB", totals)
    original = pipeline.process_image

    def timed_imaging(*args, **kwargs):
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            totals["imaging (wall)"] += time.perf_counter() - wall
            totals["imaging (CPU, all threads)"] += time.process_time() - cpu

    runner = pipeline.ImagePipeline(settings, storage, store)  # type: ignore[arg-type]
    per_run: dict[str, list[float]] = {}
    data = photo.read_bytes()
    pipeline.process_image = timed_imaging
    try:
        for n in range(runs + 1):  # run 0 warms up the clients and the imaging
            key = f"replay/{n}/{photo.name}"
            s3.put_object(Bucket=bucket, Key=key, Body=data)
            totals.update(dict.fromkeys(("S3 reads", WRITES, "DynamoDB", "imaging (wall)",
                                         "imaging (CPU, all threads)"), 0.0))
            started = time.perf_counter()
            outcome = runner.process_object(key)
            whole = time.perf_counter() - started
            assert outcome.result == "COMPLETE", outcome
            if n:
                rest = whole - totals["S3 reads"] - totals["DynamoDB"] - totals["imaging (wall)"]
                for name, value in {**totals, "the rest (writes after the imaging, code)": rest,
                                    "process_object": whole}.items():
                    per_run.setdefault(name, []).append(value)
    finally:
        pipeline.process_image = original
    return per_run


def _top_up(client: ApiClient, count: int) -> None:
    """`count` more COMPLETE records (small photos), so each list is a full page."""
    from PIL import Image

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "small.jpg"
        Image.radial_gradient("L").resize((1200, 900)).convert("RGB").save(path, quality=90)
        ids = [client.upload(path) for _ in range(count)]
        deadline = time.time() + 120
        while any(client.image(i)["status"] != "COMPLETE" for i in ids) and time.time() < deadline:
            time.sleep(0.5)


def measure(stack: StackProcess, photo: Path, count: int, concurrent: int) -> dict[str, list[float]]:
    """Uploads one after another, then concurrent lists, then the replayed breakdown."""
    got: dict[str, list[float]] = {"uploads": [], "delivery": [], "processing": []}
    client = ApiClient(stack.api)
    for _ in range(count):
        started = time.time()
        image_id = client.upload(photo)
        uploaded = time.time()
        # Every poll costs the stack CPU that the worker wants: poll often only
        # until the record is claimed, then slowly; COMPLETE's instant is the
        # final write's own `updated_at` (same clock, milliseconds).
        claimed = None
        deadline = uploaded + 120
        while time.time() < deadline:
            record = client.image(image_id)
            assert record["status"] != "FAILED", image_id
            if record["status"] == "COMPLETE":
                break
            if record["status"] == "PROCESSING" and claimed is None:
                claimed = time.time()
            time.sleep(0.02 if claimed is None else 0.25)
        assert record["status"] == "COMPLETE", f"{image_id} still {record['status']} after 120 s"
        completed = datetime.fromisoformat(record["updated_at"].replace("Z", "+00:00")).timestamp()
        got["uploads"].append(uploaded - started)
        # A record may go PENDING → COMPLETE between two polls: then delivery is unknown, 0.
        claimed = claimed or completed
        got["delivery"].append(claimed - uploaded)
        got["processing"].append(completed - claimed)

    _top_up(client, PAGE - count)

    def one_list(_: int) -> float:
        started = time.perf_counter()
        response = requests.get(f"{stack.api}/images", params={"limit": str(PAGE)}, timeout=120)
        response.raise_for_status()
        return time.perf_counter() - started

    got["lists"] = []
    if concurrent:
        with ThreadPoolExecutor(concurrent) as pool:
            got["lists"] = list(pool.map(one_list, range(concurrent)))
    return {**got, **breakdown(stack, photo, count)}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo", type=Path, default=PHOTO, help="a ~12 MP JPEG")
    parser.add_argument("--uploads", type=int, default=10)
    parser.add_argument("--lists", type=int, default=100)
    args = parser.parse_args()
    if not args.photo.exists():
        print(f"bench.e2e: {args.photo} does not exist; pass --photo a 12 MP JPEG")
        return 2
    with spawned_stack() as stack:
        got = measure(stack, args.photo, args.uploads, args.lists)
    uploads, delivery, processing, lists = (got.pop(k) for k in ("uploads", "delivery", "processing",
                                                                  "lists"))
    total = [a + b + c for a, b, c in zip(uploads, delivery, processing)]
    imaging = imaging_seconds(args.photo)
    print(f"{args.photo.name}, {args.uploads} uploads one after another (load {os.getloadavg()[0]:.2f})")
    print(f"{'seconds':<42} {'p50':>6} {'p95':>6}")
    for name, values in (("upload (POST /uploads + S3 POST)", uploads),
                         ("end of upload → PROCESSING (delivery)", delivery),
                         ("PROCESSING → COMPLETE", processing), ("total", total),
                         ("  of which imaging alone (CPU, in-process)", imaging)):
        print(f"{name:<42} {_p(values, 0.5):>6.2f} {_p(values, 0.95):>6.2f}")
    print(f"where PROCESSING → COMPLETE goes (the handler replayed {args.uploads}× on the same stack):")
    for name, values in got.items():
        print(f"  {name:<40} {_p(values, 0.5):>6.2f} {_p(values, 0.95):>6.2f}")
    print(f"target p50 total ≤ 1.0 s: {'met' if _p(total, 0.5) <= 1.0 else 'NOT met'}")
    if lists:
        print(f"{args.lists} concurrent GET /images: p50 {_p(lists, 0.5):.2f} s, p95 {_p(lists, 0.95):.2f} s "
              f"(target p95 ≤ 2 s: {'met' if _p(lists, 0.95) <= 2 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
