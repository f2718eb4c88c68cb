"""`make bench-scale`: what 100, 1,000 and 5,000 images a second ask of each AWS limit.

The calls per image are recorded from the code (bench/scalecalls.py: the pipeline and
the API in moto, botocore hooks); the limits and prices below are AWS's published
defaults. It prints, per rate, the hottest DynamoDB partition value of the table and of
each index against 1,000 write units a second, S3 requests per key prefix, Lambda
concurrency, EventBridge PutEvents, API Gateway requests and the cost per 1,000 images,
then the sweeper's reads at 100 million records. `--legacy` models the unsharded indexes
(the layout before docs/DATA-MODEL.md's migration) for comparison.
"""

import argparse
import json
import math
import statistics
import sys
from pathlib import Path
from typing import TextIO

from bench.scalecalls import Calls, record
from chalicelib.status.schema import DUE, SHARDS, shard_count

RATES = (100, 1_000, 5_000)
TARGET = 0.5  # no partition value above half its limit
ROOT = Path(__file__).resolve().parents[1]
CALLS_TABLE = ROOT / "bench" / "results" / "scale-calls.json"

# DynamoDB developer guide, "Partitions and data distribution" / "Service quotas":
PARTITION_WCU = 1_000  # write units a second per partition value (table and each GSI)
TABLE_WRU_QUOTA = 40_000  # on-demand, per table and per GSI (adjustable)
NEW_TABLE_WRU = 4_000  # an on-demand table with no earlier peak serves this much at once
# S3 user guide, "Best practices design patterns: optimizing Amazon S3 performance":
S3_WRITE_PER_PREFIX, S3_READ_PER_PREFIX = 3_500, 5_500
# Lambda developer guide, "Lambda quotas" and "Lambda scaling behavior" (since 2023-11):
ACCOUNT_CONCURRENCY = 1_000
SCALING_PER_10S = 1_000  # concurrency a function may add every 10 seconds
# API Gateway developer guide, "Amazon API Gateway quotas": per account and region.
APIGW_RPS, APIGW_BURST = 10_000, 5_000
# EventBridge user guide, "Amazon EventBridge quotas" (docs.aws.amazon.com/eventbridge/latest/
# userguide/eb-quota.html), PutEvents transactions a second: us-east-1 10,000, us-east-2 2,400,
# lower still in smaller regions. Each of our PutEvents calls carries one entry.
PUT_EVENTS_TPS = {"us-east-1": 10_000, "us-west-2": 10_000, "eu-west-1": 10_000, "us-east-2": 2_400}
# docs/DEPLOY.md "Cost per 1,000 images" (us-east-1, on demand, x86), and EventBridge's
# $1.00 per million custom events.
PRICE = {"gb_s": 0.0000166667, "lambda_request": 0.20e-6, "s3_put": 0.005e-3, "s3_get": 0.0004e-3,
         "wru": 0.625e-6, "rru": 0.125e-6, "api_request": 3.50e-6, "event": 1.00e-6}
RESIZE_GB, API_GB = 1.7275, 0.25  # the functions' memory (.chalice/config.json)
# Resize time of a camera photo on Lambda: 335 ms of CPU and ~100 ms of S3/DynamoDB I/O
# (docs/DEPLOY.md "Cost per 1,000 images"); the recorded run uses small synthetic images.
RESIZE_SECONDS = 0.435
EVENT_DELAY_SECONDS = 0.5  # S3 event to invocation, as the polling client sees it
SWEEP_SECONDS, SWEEP_LIMIT = 300, 100  # app.py's schedule, sweeper.sweep's limit per kind


def polls(seconds: float) -> int:
    """GET /images/{id} requests imgpipe's client (ApiClient.wait) makes while an image takes `seconds`."""
    from unittest import mock

    from imgpipe.client import ApiClient

    clock, count = [0.0], [0]

    def image(_image_id: str) -> dict:
        count[0] += 1
        return {"status": "COMPLETE" if clock[0] >= seconds else "PROCESSING"}

    def sleep(delay: float) -> None:
        clock[0] += delay

    client = ApiClient("http://127.0.0.1:1")
    with mock.patch.object(client, "image", image), mock.patch("imgpipe.client.time.monotonic", lambda: clock[0]), \
            mock.patch("imgpipe.client.time.sleep", sleep):
        client.wait("x" * 32, timeout=600)
    return count[0]


def calls_table(calls: Calls) -> dict:
    """Calls per image by service, operation and target, and index writes per partition class:
    what the test compares with bench/results/scale-calls.json."""
    return {
        "calls": {name: round(n, 3) for name, n in calls.per_image().items()},
        "index_writes": {index: {name: round(n / calls.images, 3) for name, n in sorted(classes.items())}
                         for index, classes in sorted(calls.index_writes.items())},
    }


def pct(value: float, limit: float) -> str:
    share = value / limit
    mark = " LIMIT" if share > 1 else (" >50%" if share > TARGET else "")
    return f"{value:,.0f} ({share:.0%}){mark}"


def model(calls: Calls, region: str, resize_seconds: float, abandoned: float) -> tuple[list[list[str]], list[str]]:
    """Rows of (what, limit, figure at each rate), and the limits reached at the highest rate."""
    n = calls.images
    per = calls.per_image()
    api_s = statistics.median(calls.api_seconds[1:] or calls.api_seconds)
    poll_count = polls(resize_seconds + EVENT_DELAY_SECONDS)
    api_requests = 1 + poll_count
    rows: list[list[str]] = []
    reached: dict[str, str] = {}

    def row(what: str, limit: float, per_image: float, name: str) -> None:
        values = [per_image * rate for rate in RATES]
        rows.append([what, f"{limit:,.2f}" if limit < 10 else f"{limit:,.0f}", *(pct(v, limit) for v in values)])
        if values[-1] > limit * TARGET:
            shown = f"{limit:,.2f}" if limit < 10 else f"{limit:,.0f}"
            reached[name] = f"{name} ({values[-1]:,.0f}/s at {RATES[-1]:,} images/s; limit {shown})"

    table_units = calls.table_units / n
    row("DynamoDB table, write units/s (all items)", TABLE_WRU_QUOTA, table_units, "on-demand table write quota")
    rows.append(["DynamoDB table, hottest item (one image)", f"{PARTITION_WCU:,}",
                 *[f"≤ {table_units:.0f}/s (any rate)"] * len(RATES)])
    def spread(name: str) -> int:
        return shard_count(name) if calls.sharded[name] else 1

    for index, classes in sorted(calls.index_units.items()):
        hottest = max(classes, key=lambda c: classes[c] / spread(c))
        label = f"{hottest}#NN" if calls.sharded[hottest] else hottest
        row(f"GSI {index}, hottest value {label}, WCU/s", PARTITION_WCU, classes[hottest] / n / spread(hottest),
            f"hot partition {index}={label}")
        row(f"GSI {index}, all values, WCU/s", TABLE_WRU_QUOTA, sum(classes.values()) / n,
            f"on-demand GSI write quota ({index})")
    for name, count in per.items():
        if name.startswith("s3 "):
            _, kind, prefix = name.split(" ", 2)
            limit = S3_WRITE_PER_PREFIX if kind == "write" else S3_READ_PER_PREFIX
            split = math.ceil(RATES[-1] * count / (limit * TARGET))
            row(f"S3 {kind}s/s on {prefix} (one partition)", limit, count,
                f"S3 {kind}s on {prefix}: S3 must split it into {split} partitions (the image id that follows"
                " lets it; it does so under sustained load, answering 503 SlowDown meanwhile)")
    concurrency = resize_seconds + api_requests * api_s
    row(f"Lambda concurrency ({resize_seconds:.2f} s resize + {api_requests} API × {api_s * 1000:.0f} ms)",
        ACCOUNT_CONCURRENCY, concurrency, "Lambda account concurrency")
    rows.append(["Lambda: seconds to scale up from 0", f"{SCALING_PER_10S:,}/10 s",
                 *[f"{10 * math.ceil(rate * concurrency / SCALING_PER_10S):,} s" for rate in RATES]])
    events = per.get("events PutEvents calls", 0)
    quota = PUT_EVENTS_TPS.get(region, 400)
    row(f"EventBridge PutEvents/s ({region})", quota, events, f"EventBridge PutEvents ({region})")
    row(f"API Gateway requests/s (POST + {poll_count} polls)", APIGW_RPS, api_requests, "API Gateway requests")

    writes = sum(v for k, v in per.items() if k.startswith("s3 write"))
    reads = sum(v for k, v in per.items() if k.startswith("s3 read"))
    index_units = sum(sum(c.values()) for c in calls.index_units.values()) / n
    read_units = sum(v for k, v in per.items() if k.startswith("dynamodb GetItem"))
    cost = 1_000 * (
        resize_seconds * RESIZE_GB * PRICE["gb_s"] + api_requests * api_s * API_GB * PRICE["gb_s"]
        + (1 + api_requests) * PRICE["lambda_request"]
        + writes * PRICE["s3_put"] + reads * PRICE["s3_get"]
        + (table_units + index_units) * PRICE["wru"] + read_units * PRICE["rru"]
        + api_requests * PRICE["api_request"] + events * PRICE["event"])
    rows.append(["cost per 1,000 images (on demand: the same at every rate)", "", *[f"${cost:.3f}"] * len(RATES)])
    sweeps = SWEEP_LIMIT / SWEEP_SECONDS
    row(f"sweeper: uploads never finished/s ({abandoned:.1%}), it expires {sweeps:.2f}/s", sweeps, abandoned,
        "sweeper throughput (SWEEP_LIMIT per 5 minutes)")
    return rows, list(reached.values())


def sweep_reads(calls: Calls) -> list[str]:
    """What one sweep reads, at any table size: key conditions only ever touch the PENDING,
    PROCESSING and due partitions, and each query stops at its Limit."""
    batch = max(4, 2 * math.ceil(SWEEP_LIMIT / SHARDS))
    queries = 2 * (SHARDS + math.ceil(SWEEP_LIMIT / batch))
    due_batch = max(4, 2 * math.ceil(SWEEP_LIMIT / shard_count(DUE)))
    queries += shard_count(DUE) + math.ceil(SWEEP_LIMIT / due_batch)
    entry = 400  # bytes of a by-status-sharded entry (keys, source, lease); by-webhook's are smaller
    units = queries * math.ceil(batch * entry / 4096) * 0.5
    month = units * (30 * 24 * 3600 / SWEEP_SECONDS)
    return [
        (f"Each sweep: at most {queries} queries ({SHARDS} shards × 2 statuses and {shard_count(DUE)} due shards,"
        f" then refills of {batch}),"),
        (f"  ≤ {queries * batch:,} index entries, ≤ {units:.0f} read units: ${units * PRICE['rru'] * 1e6:.2f} per million"
        f" sweeps, ${month * PRICE['rru']:.3f} a month at one sweep per {SWEEP_SECONDS // 60} minutes."),
        "  The same at 100 million records as at 100: COMPLETE and FAILED records are never read.",
        f"  Each stuck record then costs a GetItem and one to three writes; at most {SWEEP_LIMIT} per kind a sweep.",
    ]


def print_table(rows: list[list[str]], out: TextIO = sys.stdout) -> None:
    header = ["", "limit", *[f"{rate:,} images/s" for rate in RATES]]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for line in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip(), file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=3, help="images recorded through the pipeline")
    parser.add_argument("--region", default="us-east-1", help="for the EventBridge quota")
    parser.add_argument("--resize-seconds", type=float, default=RESIZE_SECONDS,
                        help="Lambda duration of one resize (a camera photo: docs/DEPLOY.md)")
    parser.add_argument("--abandoned", type=float, default=0.01, help="share of uploads that never arrive")
    parser.add_argument("--legacy", action="store_true", help="model the unsharded indexes instead")
    parser.add_argument("--update-calls", action="store_true", help=f"rewrite {CALLS_TABLE.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    calls = record(args.images, legacy=args.legacy)
    if args.update_calls:
        CALLS_TABLE.write_text(json.dumps(calls_table(calls), indent=2) + "\n")
    layout = "unsharded indexes (before the migration)" if args.legacy else f"sharded indexes ({SHARDS} shards)"
    print(f"imgpipe at scale: {layout}; calls recorded for {calls.images} images, per image:")
    for name, count in calls.per_image().items():
        print(f"  {count:5.2f}  {name}")
    print(f"  records: {max(calls.item_bytes):,} bytes at most; table {calls.table_units / calls.images:.0f} write"
          f" units per image; resize {statistics.median(calls.resize_seconds) * 1000:.0f} ms in process"
          f" (small images; the model uses {args.resize_seconds:.2f} s)\n")
    rows, reached = model(calls, args.region, args.resize_seconds, args.abandoned)
    print_table(rows)
    print(f"\nAbove {TARGET:.0%} of a limit at {RATES[-1]:,} images/s:" if reached else "\nNo limit above 50%.")
    for line in reached:
        print(f"  - {line}")
    print(f"\nA new on-demand table serves {NEW_TABLE_WRU:,} write units/s at once and doubles with traffic;"
          " set its warm throughput before a launch.\n")
    print("Sweeper at 100 million records:")
    for line in sweep_reads(calls):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
