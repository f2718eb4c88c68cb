"""`python -m bench.e2e`: end-to-end latency and concurrent lists on a fresh local stack.

1. One 12 MP photo uploaded through the API (POST /uploads, presigned POST)
   `--uploads` times, one after another; for each, the upload time, the time
   from the end of the upload until the record says PROCESSING (event
   delivery: S3 → SQS → worker long-poll → handler claims the record), and
   from there to COMPLETE (S3 read, imaging, S3 writes, DynamoDB), polled
   every 20 ms; p50/p95. The imaging part alone is measured in this process
   (process_image with the default renditions, warm), for comparison.
2. `--lists` concurrent GET /images (25 records each): p50/p95 per request.

The stack is `python -m imgpipe run` on free ports (imgpipe.loadtest), so
event delivery (S3 → SQS → worker), S3 and DynamoDB round trips through moto
and the imaging are all in the numbers.
"""

import argparse
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from imgpipe.client import ApiClient
from imgpipe.loadtest import spawned_stack

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "photos"
PHOTO = PHOTOS / "L03_ianare_42_IndexError_12mp.jpg"


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def imaging_seconds(photo: Path, runs: int = 5) -> list[float]:
    """CPU seconds of process_image with the handler's default outputs, warm."""
    from chalicelib.imaging import process_image
    from chalicelib.pipeline import rendition_outputs
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


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo", type=Path, default=PHOTO, help="a ~12 MP JPEG")
    parser.add_argument("--uploads", type=int, default=10)
    parser.add_argument("--lists", type=int, default=100)
    args = parser.parse_args()
    if not args.photo.exists():
        print(f"bench.e2e: {args.photo} does not exist; pass --photo a 12 MP JPEG")
        return 2
    uploads, delivery, processing, lists = [], [], [], []
    with spawned_stack() as api:
        client = ApiClient(api)
        for _ in range(args.uploads):
            started = time.perf_counter()
            image_id = client.upload(args.photo)
            uploaded = time.perf_counter()
            seen: dict[str, float] = {}
            deadline = uploaded + 120
            while "COMPLETE" not in seen and time.perf_counter() < deadline:
                status = client.image(image_id)["status"]
                assert status != "FAILED", image_id
                seen.setdefault(status, time.perf_counter())
                time.sleep(0.02)
            uploads.append(uploaded - started)
            # A record may go PENDING → COMPLETE between two polls: then delivery is unknown, 0.
            claimed = seen.get("PROCESSING", seen["COMPLETE"])
            delivery.append(claimed - uploaded)
            processing.append(seen["COMPLETE"] - claimed)

        def one_list(_: int) -> float:
            started = time.perf_counter()
            response = requests.get(f"{api}/images", params={"limit": "25"}, timeout=120)
            response.raise_for_status()
            return time.perf_counter() - started

        with ThreadPoolExecutor(args.lists) as pool:
            lists = list(pool.map(one_list, range(args.lists)))
    total = [a + b + c for a, b, c in zip(uploads, delivery, processing)]
    imaging = imaging_seconds(args.photo)
    print(f"{args.photo.name}, {args.uploads} uploads one after another (load {os.getloadavg()[0]:.2f})")
    print(f"{'seconds':<40} {'p50':>6} {'p95':>6}")
    for name, values in (("upload (POST /uploads + S3 POST)", uploads),
                         ("end of upload → PROCESSING (delivery)", delivery),
                         ("PROCESSING → COMPLETE", processing), ("total", total),
                         ("  of which imaging alone (CPU, in-process)", imaging)):
        print(f"{name:<40} {_p(values, 0.5):>6.2f} {_p(values, 0.95):>6.2f}")
    print(f"target p50 total ≤ 1.0 s: {'met' if statistics.median(total) <= 1.0 else 'NOT met'}")
    print(f"{args.lists} concurrent GET /images: p50 {_p(lists, 0.5):.2f} s, p95 {_p(lists, 0.95):.2f} s "
          f"(target p95 ≤ 2 s: {'met' if _p(lists, 0.95) <= 2 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
