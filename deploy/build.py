"""Build the packaged artifacts: one SAM template (path 2) or Terraform (path 3).

Both run `chalice package` with the stage's policies rendered first; neither
needs AWS credentials. Output goes to build/<path>/.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from deploy.policies import CLOUDFORMATION, TERRAFORM, write_stage_policies

ROOT = Path(__file__).resolve().parents[1]
RESOURCES = ROOT / "infra" / "resources.json"
TERRAFORM_DIR = ROOT / "infra" / "terraform"
CHALICE = str(Path(sys.executable).with_name("chalice"))
RESIZE_RETRIES_BEFORE_DLQ = 2  # Lambda's own retries of an async (S3) event, then the DLQ


def load_config() -> dict:
    return json.loads((ROOT / ".chalice" / "config.json").read_text())


def resize_timeout(stage: str) -> int:
    return load_config()["stages"][stage]["lambda_functions"]["resize_image"]["lambda_timeout"]


def run_chalice(*args: str) -> None:
    # Chalice wants a region even to package; it only lands in Terraform's data sources.
    env = {"AWS_DEFAULT_REGION": "us-east-1", **os.environ}
    subprocess.run([CHALICE, *args], cwd=ROOT, env=env, check=True)


def merge_template(stage: str) -> dict:
    """infra/resources.json plus what ties Chalice's functions to it."""
    template = json.loads(RESOURCES.read_text())
    params, resources = template["Parameters"], template["Resources"]
    params["Stage"]["Default"] = stage
    params["DurationAlarmMilliseconds"]["Default"] = resize_timeout(stage) * 800
    del params["ResizeFunctionName"]  # the packaged stack names it itself
    for alarm in ("ResizeErrorsAlarm", "ResizeThrottlesAlarm", "ResizeDurationAlarm"):
        resources[alarm]["Properties"]["Dimensions"] = [
            {"Name": "FunctionName", "Value": {"Ref": "ResizeImage"}}
        ]
    env = {
        "INPUT_BUCKET": {"Fn::Sub": CLOUDFORMATION["InputBucket"]},
        "OUTPUT_BUCKET": {"Fn::Sub": CLOUDFORMATION["OutputBucket"]},
        "STATUS_TABLE": {"Ref": "StatusTable"},
        # The same origins as the buckets' CORS rules.
        "ALLOWED_ORIGINS": {"Fn::Join": [",", {"Ref": "AllowedOrigins"}]},
    }
    resources["APIHandler"] = {"Properties": {"Environment": {"Variables": env}}}
    resources["SweepStuckImages"] = {"Properties": {"Environment": {"Variables": env}}}
    resources["ResizeImage"] = {
        "Properties": {
            "Environment": {"Variables": env},
            "Events": {
                "Upload": {
                    "Type": "S3",
                    "Properties": {
                        "Bucket": {"Ref": "InputBucket"},
                        "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                    },
                }
            },
            "EventInvokeConfig": {
                "MaximumRetryAttempts": RESIZE_RETRIES_BEFORE_DLQ,
                "DestinationConfig": {
                    "OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
                },
            },
        }
    }
    return template


def package_cloudformation(stage: str = "cfn", out: Path = ROOT / "build" / "cfn") -> Path:
    """build/cfn/sam.json (merged) and deployment.zip; returns the template path."""
    out.mkdir(parents=True, exist_ok=True)
    write_stage_policies(stage, CLOUDFORMATION, wrap_sub=True)
    merge = out / "merge.json"
    merge.write_text(json.dumps(merge_template(stage), indent=2) + "\n")
    run_chalice("package", "--stage", stage, "--merge-template", str(merge), str(out))
    return out / "sam.json"


def package_terraform(stage: str = "tf", out: Path = ROOT / "build" / "terraform") -> Path:
    """build/terraform: chalice.tf.json, deployment.zip and infra/terraform/*.tf."""
    if out.exists():
        shutil.rmtree(out)
    write_stage_policies(stage, TERRAFORM)
    run_chalice("package", "--stage", stage, "--pkg-format", "terraform", str(out))
    for tf in TERRAFORM_DIR.glob("*.tf"):
        shutil.copy(tf, out / tf.name)
    return out
