"""`python -m bench.variants`' second part: a repeated variant request through `make run`'s stack.

A fresh `python -m imgpipe run` on free ports (imgpipe.loadtest, as bench.e2e) gets one
photo near 12 MP; once it is COMPLETE, one signed 640 px WebP URL (POST /images/{id}/variants)
is requested once (the first render) and then `repeats` times without following the
redirect and `repeats` times following it (the stored bytes fetched too). The route's
`X-Imgpipe-Variant` header says `rendered` or `stored` for each, so renders are counted;
the stored objects under `variants/{id}/` are counted in the emulated S3 as well.

The local stack plays CloudFront only in that it serves a stored variant without
rendering; there is no edge cache, so every latency here is the local API's (and moto's
for the object), not a CDN's.
"""

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import requests

if TYPE_CHECKING:
    from imgpipe.stackprocess import StackProcess

WIDTH = 640
TARGET_PIXELS = 12_000_000
ACCEPT = {"Accept": "image/webp,*/*"}
INTRO = ("The local stack plays CloudFront by serving a stored variant without rendering it again; "
         "it has no edge cache,\nso these latencies are the local API's (and the emulated S3's for "
         "the object), not a CDN's.")


@dataclass(frozen=True)
class Answer:
    """One GET of the variant URL: its status, X-Imgpipe-Variant, and seconds."""

    status: int
    served: str  # "rendered", "stored", or "" when the header is absent
    redirect_s: float  # the GET of the /v/ URL, redirect not followed
    fetch_s: float | None = None  # the GET of Location, when it was followed

    @property
    def total_s(self) -> float:
        return self.redirect_s + (self.fetch_s or 0.0)


def percentile(values: list[float], q: float) -> float:
    """The q-quantile, interpolated between ranks (as bench.e2e); one value is its own."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def closest_to_12mp(photos: list[Path]) -> Path:
    """The photo whose pixel count is nearest 12 MP (headers only; ties: the first by name)."""
    from PIL import Image

    def distance(path: Path) -> int:
        with Image.open(path) as image:
            return abs(image.width * image.height - TARGET_PIXELS)
    return min(sorted(photos), key=distance)


def failures(first: Answer, repeated: list[Answer]) -> list[str]:
    """What contradicts "rendered once, then served from storage", as sentences."""
    problems = []
    if first.status != 302 or first.served != "rendered":
        problems.append(f"the first request answered HTTP {first.status} "
                        f"({first.served or 'no X-Imgpipe-Variant'}), not a 302 that rendered")
    wrong = [a for a in repeated if a.status != 302 or a.served != "stored"]
    if wrong:
        kinds = ", ".join(sorted({f"HTTP {a.status} {a.served or 'no header'}" for a in wrong}))
        problems.append(f"{len(wrong)} of {len(repeated)} repeated requests were not served from "
                        f"storage ({kinds})")
    return problems


def table(first: Answer, plain: list[Answer], followed: list[Answer]) -> list[str]:
    """The latency lines: p50/p95 in ms of the first and the repeated requests."""
    lines = [f"{'latency, ms':<52} {'n':>3} {'p50':>7} {'p95':>7}"]
    rows = (("first request (renders), 302 alone", [first.redirect_s]),
            ("first request (renders), 302 + object GET", [first.total_s]),
            ("repeated (stored), 302 alone", [a.redirect_s for a in plain]),
            ("repeated (stored), 302 + object GET", [a.total_s for a in followed]))
    for name, values in rows:
        ms = [v * 1000 for v in values]
        lines.append(f"{name:<52} {len(ms):>3} {percentile(ms, 0.5):7.1f} {percentile(ms, 0.95):7.1f}")
    return lines


def _get(session: requests.Session, url: str, follow: bool) -> Answer:
    started = time.perf_counter()
    answer = session.get(url, headers=ACCEPT, allow_redirects=False, timeout=60)
    redirect_s = time.perf_counter() - started
    fetch_s = None
    if follow and answer.status_code == 302:
        started = time.perf_counter()
        picture = session.get(answer.headers["Location"], timeout=60)
        fetch_s = time.perf_counter() - started
        if picture.status_code != 200 or not picture.content:
            return Answer(picture.status_code, "object fetch failed", redirect_s, fetch_s)
    return Answer(answer.status_code, answer.headers.get("X-Imgpipe-Variant", ""), redirect_s, fetch_s)


def _variant_url(session: requests.Session, api: str, image_id: str, width: int) -> str:
    made = session.post(f"{api}/images/{image_id}/variants", json={"width": width, "format": "webp"},
                        timeout=30)
    if made.status_code != 201:
        raise SystemExit(f"bench.variants: POST /images/{image_id}/variants answered HTTP "
                         f"{made.status_code}: {made.text[:200]}")
    return made.json()["url"]


def _stored_variants(stack: "StackProcess", image_id: str) -> int:
    from chalicelib.config import load_settings
    from imgpipe.localstage import stage_environment

    bucket = load_settings(stage_environment()).output_bucket
    listed = stack.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"variants/{image_id}/")
    return listed.get("KeyCount", 0)


def measure(photos: list[Path], repeats: int) -> int:
    """Run the stack part and print it; 1 when a repeated request rendered (or anything failed)."""
    from imgpipe.client import ApiClient
    from imgpipe.loadtest import spawned_stack

    photo = closest_to_12mp(photos)
    print(f"\nA repeated request through `make run` ({photo.name}, {WIDTH} px WebP, "
          f"1 first + {repeats} + {repeats} followed)")
    print(INTRO, flush=True)
    with spawned_stack() as stack, requests.Session() as session:
        image_id = ApiClient(stack.api, timeout=120).upload(photo)
        record = stack.wait_final(image_id, timeout=180)
        if record.get("status") != "COMPLETE":
            print(f"FAILED: the upload of {photo.name} ended {record.get('status', 'unknown')}, not COMPLETE.")
            return 1
        # A render of another width first, so the one measured below does not pay the
        # renderer's first imports in the stack's API process (a warm function's render).
        warm = _get(session, _variant_url(session, stack.api, image_id, WIDTH // 2), follow=True)
        url = _variant_url(session, stack.api, image_id, WIDTH)
        first = _get(session, url, follow=True)
        plain = [_get(session, url, follow=False) for _ in range(repeats)]
        followed = [_get(session, url, follow=True) for _ in range(repeats)]
        stored = _stored_variants(stack, image_id)
    repeated = plain + followed
    renders = sum(a.served == "rendered" for a in [first, *repeated])
    print(f"warm-up: w_{WIDTH // 2} rendered first ({warm.served or 'no header'}, "
          f"{warm.total_s * 1000:.0f} ms with its object), not counted below")
    print(f"renders counted for w_{WIDTH} (X-Imgpipe-Variant: rendered): {renders} of "
          f"{1 + len(repeated)} requests (must be 1)")
    print(f"objects stored under variants/{{id}}/: {stored} (must be 2: w_{WIDTH // 2} and w_{WIDTH})")
    for line in table(first, plain, followed):
        print(line)
    problems = failures(first, repeated) + ([] if stored == 2 else [f"{stored} stored variant objects, not 2"])
    for problem in problems:
        print(f"FAILED: {problem}")
    return 1 if problems else 0
