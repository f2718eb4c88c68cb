"""`python -m imgpipe reprocess --batch`: a backfill as an S3 Batch Operations job.

For millions of objects the operator's machine should not run the handler:
it writes a manifest (a listing of the input bucket, or an S3 Inventory
report it is given) and asks S3 Batch Operations to invoke the stage's
`backfill_image` function once per object, with a completion report of the
tasks that failed. Nothing here runs on Lambda.
"""

import csv
import io
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlsplit

MANIFEST_PREFIX = "batch/manifests/"
REPORT_PREFIX = "batch/reports"
CSV_FORMAT = "S3BatchOperations_CSV_20180820"
INVENTORY_FORMAT = "S3InventoryReport_CSV_20161130"


@dataclass(frozen=True)
class Manifest:
    """Where a job's list of objects is, in the shape CreateJob takes."""

    bucket: str
    key: str
    etag: str
    format: str
    count: int | None = None  # objects listed, when we wrote it

    def spec(self) -> dict:
        spec = {"Format": self.format}
        if self.format == CSV_FORMAT:
            spec["Fields"] = ["Bucket", "Key"]
        return {"Spec": spec, "Location": {"ObjectArn": f"arn:aws:s3:::{self.bucket}/{self.key}",
                                           "ETag": self.etag}}


def write_manifest(s3: Any, input_bucket: str, prefix: str, manifest_bucket: str) -> Manifest:
    """List `input_bucket` under `prefix` into a CSV manifest (keys URL-encoded,
    as Batch Operations requires) stored in `manifest_bucket`."""
    buffer, count = io.StringIO(), 0
    writer = csv.writer(buffer, lineterminator="\n")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=input_bucket, Prefix=prefix):
        for listed in page.get("Contents", []):
            writer.writerow([input_bucket, quote_plus(listed["Key"], safe="/")])
            count += 1
    key = f"{MANIFEST_PREFIX}{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:8]}.csv"
    put = s3.put_object(Bucket=manifest_bucket, Key=key, Body=buffer.getvalue().encode(), ContentType="text/csv")
    return Manifest(manifest_bucket, key, put["ETag"].strip('"'), CSV_FORMAT, count)


def inventory_manifest(s3: Any, url: str) -> Manifest:
    """An S3 Inventory report's manifest.json (`s3://bucket/…/manifest.json`), as is."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or not parts.path.endswith("manifest.json"):
        raise ValueError("--inventory must be an s3://BUCKET/…/manifest.json URL of an S3 Inventory report")
    key = parts.path.lstrip("/")
    head = s3.head_object(Bucket=parts.netloc, Key=key)
    return Manifest(parts.netloc, key, head["ETag"].strip('"'), INVENTORY_FORMAT)


def create_job(
    s3control: Any, account_id: str, function_arn: str, role_arn: str, manifest: Manifest, report_bucket: str,
    description: str,
) -> str:
    """Create the job (no confirmation step: the operator asked for it); its id."""
    response = s3control.create_job(
        AccountId=account_id,
        ConfirmationRequired=False,
        Operation={"LambdaInvoke": {"FunctionArn": function_arn, "InvocationSchemaVersion": "2.0"}},
        Manifest=manifest.spec(),
        Report={"Bucket": f"arn:aws:s3:::{report_bucket}", "Format": "Report_CSV_20180820", "Enabled": True,
                "Prefix": REPORT_PREFIX, "ReportScope": "FailedTasksOnly"},
        ClientRequestToken=str(uuid.uuid4()),
        Priority=10,
        RoleArn=role_arn,
        Description=description[:256],
    )
    return response["JobId"]
