"""`python -m imgpipe reprocess --batch`: a backfill as an S3 Batch Operations job.

For millions of objects the operator's machine should not run the handler:
it writes a manifest (a listing of the input bucket, or an S3 Inventory
report it is given) and asks S3 Batch Operations to invoke the stage's
`backfill_image` function once per object, with a completion report of the
tasks that failed. Nothing here runs on Lambda.
"""

import csv
import io
import json
import subprocess
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import quote_plus, urlsplit

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3control import S3ControlClient
    from mypy_boto3_s3control.literals import JobManifestFormatType
    from mypy_boto3_s3control.type_defs import JobManifestSpecTypeDef, JobManifestTypeDef

MANIFEST_PREFIX = "batch/manifests/"
REPORT_PREFIX = "batch/reports"
CSV_FORMAT: Final = "S3BatchOperations_CSV_20180820"
INVENTORY_FORMAT: Final = "S3InventoryReport_CSV_20161130"


@dataclass(frozen=True)
class Manifest:
    """Where a job's list of objects is, in the shape CreateJob takes."""

    bucket: str
    key: str
    etag: str
    format: "JobManifestFormatType"
    count: int | None = None  # objects listed, when we wrote it

    def spec(self) -> "JobManifestTypeDef":
        spec: JobManifestSpecTypeDef = {"Format": self.format}
        if self.format == CSV_FORMAT:
            spec["Fields"] = ["Bucket", "Key"]
        return {"Spec": spec, "Location": {"ObjectArn": f"arn:aws:s3:::{self.bucket}/{self.key}",
                                           "ETag": self.etag}}


def write_manifest(s3: "S3Client", input_bucket: str, prefix: str, manifest_bucket: str) -> Manifest:
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


def inventory_manifest(s3: "S3Client", url: str) -> Manifest:
    """An S3 Inventory report's manifest.json (`s3://bucket/…/manifest.json`), as is."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or not parts.path.endswith("manifest.json"):
        raise ValueError("--inventory must be an s3://BUCKET/…/manifest.json URL of an S3 Inventory report")
    key = parts.path.lstrip("/")
    head = s3.head_object(Bucket=parts.netloc, Key=key)
    return Manifest(parts.netloc, key, head["ETag"].strip('"'), INVENTORY_FORMAT)


def create_job(
    s3control: "S3ControlClient", account_id: str, function_arn: str, role_arn: str, manifest: Manifest,
    report_bucket: str,
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


# Where each deploy path publishes what a job needs: CloudFormation stack outputs
# (paths 1 and 2) and `terraform output -json` (path 3).
STACK_OUTPUTS = {"input_bucket": "InputBucket", "output_bucket": "OutputBucket",
                 "role_arn": "BatchOperationsRoleArn", "function_arn": "BackfillFunctionArn"}
TERRAFORM_OUTPUTS = {"input_bucket": "input_bucket", "output_bucket": "output_bucket",
                     "role_arn": "batch_operations_role_arn", "function_arn": "backfill_function_arn"}


@dataclass(frozen=True)
class BatchTargets:
    """The deployed stage's side of a job: the buckets, the role and the function."""

    input_bucket: str
    output_bucket: str
    role_arn: str
    function_arn: str

    @property
    def account_id(self) -> str:
        return self.function_arn.split(":")[4]

    @property
    def region(self) -> str:
        return self.function_arn.split(":")[3]


def targets_from(outputs: dict[str, str], names: dict[str, str], where: str) -> BatchTargets:
    missing = [name for name in names.values() if not outputs.get(name)]
    if missing:
        raise ValueError(f"{where} has no {', '.join(missing)}: deploy this version of imgpipe first")
    targets = BatchTargets(**{field: outputs[name] for field, name in names.items()})
    if not targets.function_arn.startswith("arn:") or targets.function_arn.count(":") < 6:
        raise ValueError(f"{where}: {targets.function_arn} is not a Lambda function ARN")
    return targets


def targets_from_stack(cfn: "CloudFormationClient", stack: str) -> BatchTargets:
    """From the outputs of the resources stack (path 1) or the packaged stack (path 2)."""
    outputs = cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    return targets_from({o["OutputKey"]: o["OutputValue"] for o in outputs}, STACK_OUTPUTS, f"stack {stack}")


def targets_from_terraform(directory: str) -> BatchTargets:
    """From `terraform output -json` in the applied configuration's folder (path 3)."""
    try:
        result = subprocess.run(["terraform", f"-chdir={directory}", "output", "-json"], capture_output=True,
                                text=True, check=False)
    except FileNotFoundError:
        raise ValueError("terraform is not installed (or not on PATH): it reads the stage's outputs") from None
    if result.returncode != 0:
        raise ValueError(f"terraform output failed in {directory}: {result.stderr.strip()[-300:]}")
    outputs = {name: entry.get("value") for name, entry in json.loads(result.stdout or "{}").items()}
    return targets_from(outputs, TERRAFORM_OUTPUTS, f"the Terraform state of {directory}")


def check_readable(manifest: Manifest, targets: BatchTargets) -> None:
    """The Batch Operations role reads manifests under batch/manifests/ of the output bucket only."""
    if manifest.bucket != targets.output_bucket or not manifest.key.startswith(MANIFEST_PREFIX):
        raise ValueError(
            f"the job's role can only read manifests under s3://{targets.output_bucket}/{MANIFEST_PREFIX}: "
            f"deliver the S3 Inventory report there (destination bucket {targets.output_bucket}, "
            f"prefix {MANIFEST_PREFIX}inventory)")


def start_backfill(s3: "S3Client", s3control: "S3ControlClient", targets: BatchTargets, prefix: str = "",
                   inventory: str | None = None) -> tuple[str | None, Manifest]:
    """Write (or take) the manifest and create the job; (job id or None when nothing is listed, manifest)."""
    if inventory:
        manifest = inventory_manifest(s3, inventory)
    else:
        manifest = write_manifest(s3, targets.input_bucket, prefix, targets.output_bucket)
    check_readable(manifest, targets)
    if manifest.count == 0:
        return None, manifest
    source = f"the S3 Inventory report {inventory}" if inventory else f"{manifest.count} objects"
    description = f"imgpipe backfill of {targets.input_bucket}/{prefix}* ({source})"
    job = create_job(s3control, targets.account_id, targets.function_arn, targets.role_arn, manifest,
                     targets.output_bucket, description)
    return job, manifest


def follow_commands(targets: BatchTargets, job_id: str) -> list[str]:
    """What the operator runs to watch the job and read its report of failed tasks."""
    return [
        f"aws s3control describe-job --region {targets.region} --account-id {targets.account_id} "
        f"--job-id {job_id} --query 'Job.[Status,ProgressSummary]'",
        f"aws s3 ls --recursive s3://{targets.output_bucket}/{REPORT_PREFIX}/job-{job_id}/",
    ]
