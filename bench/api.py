"""`python -m bench.api`: CPU of the API handler for GET /images and GET /images/{id}.

A page of 25 COMPLETE records with 7 renditions each (the default set), and
one record, through the real Chalice routes (chalice.test.Client: routing,
api.py, URL signing, JSON). DynamoDB round trips are excluded: the records
come from a real pipeline run in moto, then an in-memory store serves them.
Variants, interleaved per round: botocore's generate_presigned_url (before),
chalicelib/presign.py's signer (shipped), CDN URLs (CDN_DOMAIN set: no signing) and
`?urls=false`. CPU is time.process_time().
"""

import argparse
import dataclasses
import io
import os
import statistics
import time

os.environ.update({"INPUT_BUCKET": "bench-in", "OUTPUT_BUCKET": "bench-out", "STATUS_TABLE": "bench-status",
                   "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench",
                   "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench-token",
                   "MOTO_DISABLE_GLOBAL_CORS": "true", "POWERTOOLS_LOG_LEVEL": "WARNING",
                   "POWERTOOLS_METRICS_DISABLED": "true"})
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3  # noqa: E402
from chalice.test import Client  # noqa: E402
from moto import mock_aws  # noqa: E402
from PIL import Image  # noqa: E402

import app as app_module  # noqa: E402
from chalicelib.status import create_table  # noqa: E402
from chalicelib.storage import S3Storage  # noqa: E402

TARGETS = {"list": 30.0, "get": 5.0}  # ms of CPU per request (issue 12)


class MemoryStore:
    """The records of one real run, served without DynamoDB."""

    def __init__(self, records: list[dict]) -> None:
        self.records = {r["image_id"]: r for r in records}

    def get(self, image_id: str) -> dict | None:
        return self.records.get(image_id)

    def list(self, status, limit, cursor, owner=None):
        return list(self.records.values())[:limit], None


def botocore_presign(self: S3Storage, key: str, content_type: str, ttl: int) -> str:
    """The previous S3Storage.presign_download."""
    return self._s3.generate_presigned_url(
        "get_object", Params={"Bucket": self.output_bucket, "Key": key, "ResponseContentType": content_type},
        ExpiresIn=ttl)


def real_records(count: int) -> list[dict]:
    """One photo processed by the real handler in moto; its record copied `count` times."""
    s3 = boto3.client("s3", region_name="us-east-1")
    for bucket in ("bench-in", "bench-out"):
        s3.create_bucket(Bucket=bucket)
    create_table(boto3.client("dynamodb", region_name="us-east-1"), "bench-status")
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((1600, 1200)).convert("RGB").save(buffer, "JPEG")
    s3.put_object(Bucket="bench-in", Key="photos/cat.jpg", Body=buffer.getvalue())
    app_module.get_pipeline().process_object("photos/cat.jpg")
    record = app_module.get_status_store().list(None, 1, None)[0][0]
    assert record["status"] == "COMPLETE" and len(record["renditions"]) == 7, record
    records = []
    for n in range(count):
        image_id = f"{n:032x}"
        key = f"uploads/{image_id}/cat photo {n}.jpg"
        renditions = [{**r, "key": r["key"].replace("photos/cat.jpg", key)} for r in record["renditions"]]
        records.append({**record, "image_id": image_id, "renditions": renditions,
                        "source": {**record["source"], "key": key}})
    return records


def measure(client: Client, path: str, repeat: int) -> float:
    started = time.process_time()
    for _ in range(repeat):
        response = client.http.get(path)
        assert response.status_code == 200, response.body
    return (time.process_time() - started) * 1000 / repeat


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=20, help="requests per variant per round")
    args = parser.parse_args()
    with mock_aws():
        store = MemoryStore(real_records(25))
        app_module.get_status_store.cache_clear()
        one = next(iter(store.records))
        shipped = S3Storage.presign_download
        signed = app_module.get_settings()
        cdn = dataclasses.replace(signed, cdn_domain="d111111abcdef8.cloudfront.net")
        variants = {
            "botocore": (botocore_presign, signed, "/images?limit=25", f"/images/{one}"),
            "urls.py": (shipped, signed, "/images?limit=25", f"/images/{one}"),
            "CDN": (shipped, cdn, "/images?limit=25", f"/images/{one}"),
            "urls=false": (shipped, signed, "/images?limit=25&urls=false", None),
        }
        results: dict[str, dict[str, list[float]]] = {v: {"list": [], "get": []} for v in variants}
        services = app_module.services  # what the routes use
        original_store, original_settings = services.status_store, services.settings
        services.status_store = lambda: store
        try:
            with Client(app_module.app, stage_name="bench") as client:
                for rnd in range(args.rounds + 1):  # round 0 warms up every path
                    names = list(variants)
                    for name in names[rnd % len(names):] + names[:rnd % len(names)]:
                        presign, settings, list_path, get_path = variants[name]
                        S3Storage.presign_download = presign
                        services.settings = lambda settings=settings: settings
                        for route, path in (("list", list_path), ("get", get_path)):
                            if path:
                                ms = measure(client, path, args.repeat)
                                if rnd:
                                    results[name][route].append(ms)
        finally:
            S3Storage.presign_download = shipped
            services.status_store, services.settings = original_store, original_settings
    print(f"API handler CPU per request, ms (median of {args.rounds} interleaved rounds of "
          f"{args.repeat}; DynamoDB excluded; load {os.getloadavg()[0]:.2f})")
    print(f"{'variant':<12} {'GET /images (25×7)':>20} {'GET /images/{id}':>18}")
    for name, per in results.items():
        cells = [f"{statistics.median(per[r]):.2f}" if per[r] else "–" for r in ("list", "get")]
        print(f"{name:<12} {cells[0]:>20} {cells[1]:>18}")
    for variant in ("urls.py", "CDN"):
        for route, target in TARGETS.items():
            got = statistics.median(results[variant][route])
            print(f"target {route} ≤ {target:.0f} ms ({variant}): {got:.2f} ms, "
                  f"{'met' if got <= target else 'NOT met'}")


if __name__ == "__main__":
    main()
