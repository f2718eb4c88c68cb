"""The deploy artifacts build and hold together, as far as is checkable offline.

`chalice package` runs for real (once per module, ~5 s each); the templates are
linted with cfn-lint before and after the SAM transform (where circular
dependencies show); Terraform's references are resolved without providers;
the deployment zip imports in a clean Python with only its own libraries.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import hcl2
import pytest
from samtranslator.translator.transform import transform

from chalicelib.status import table_definition
from deploy import build

RESOURCES = json.loads(build.RESOURCES.read_text())
# What manylinux lets a wheel load from the system (PEP 599/600); all else must be bundled.
MANYLINUX_SYSTEM_LIBS = {
    "libc.so.6", "libm.so.6", "libdl.so.2", "librt.so.1", "libpthread.so.0", "libgcc_s.so.1",
    "libstdc++.so.6", "libutil.so.1", "libresolv.so.2", "libnsl.so.1", "ld-linux-x86-64.so.2",
    "ld-linux-aarch64.so.1", "libz.so.1",
}


@pytest.fixture(scope="module")
def cfn_template(tmp_path_factory) -> Path:
    return build.package_cloudformation(out=tmp_path_factory.mktemp("cfn"))


@pytest.fixture(scope="module")
def terraform_dir(tmp_path_factory) -> Path:
    return build.package_terraform(out=tmp_path_factory.mktemp("tf") / "terraform")


def cfn_lint(path: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def sam_expand(template: dict) -> dict:
    """What CloudFormation runs after `aws cloudformation package` and the SAM transform."""
    template = json.loads(json.dumps(template))
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://artifacts/deployment.zip"

    class NoManagedPolicies:
        def load(self) -> dict:
            return {}

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return transform(template, {}, NoManagedPolicies())


def test_resources_template_lints_and_its_table_matches_the_code():
    cfn_lint(build.RESOURCES)
    table = RESOURCES["Resources"]["StatusTable"]["Properties"]
    expected = table_definition("x")
    for field in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode"):
        assert table[field] == expected[field], field
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_packaged_cloudformation_lints_before_and_after_the_sam_transform(cfn_template, tmp_path):
    cfn_lint(cfn_template)
    template = json.loads(cfn_template.read_text())
    expanded = sam_expand(template)
    (tmp_path / "expanded.json").write_text(json.dumps(expanded))
    cfn_lint(tmp_path / "expanded.json")

    resources = expanded["Resources"]
    assert resources["ResizeImage"]["Properties"]["Handler"] == "app.resize_image"
    notification = resources["InputBucket"]["Properties"]["NotificationConfiguration"]
    assert notification["LambdaConfigurations"][0]["Function"] == {"Fn::GetAtt": ["ResizeImage", "Arn"]}
    invoke = resources["ResizeImageEventInvokeConfig"]["Properties"]
    assert invoke["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assert "RESIZE_TRIGGER" in json.dumps(resources["ResizeImage"]["Properties"]["Environment"])


def test_the_lint_catches_a_bucket_ref_that_closes_a_cycle(cfn_template, tmp_path):
    """The check is real: naming the input bucket by Ref in the function loops."""
    template = json.loads(cfn_template.read_text())
    variables = template["Resources"]["ResizeImage"]["Properties"]["Environment"]["Variables"]
    variables["INPUT_BUCKET"] = {"Ref": "InputBucket"}
    (tmp_path / "cycle.json").write_text(json.dumps(sam_expand(template)))
    with pytest.raises(AssertionError, match="E3004"):  # cfn-lint's circular dependency rule
        cfn_lint(tmp_path / "cycle.json")


def terraform_declarations(directory: Path) -> tuple[set[str], str]:
    """Every `type.name`, `data.type.name`, `var.name`, `local.name` declared; all the text."""
    files = [directory / "chalice.tf.json", *sorted(directory.glob("*.tf"))]
    docs = [json.loads(files[0].read_text())] + [hcl2.loads(f.read_text()) for f in files[1:]]
    prefixes = {"resource": "", "data": "data.", "variable": "var.", "locals": "local."}
    declared = set()
    for doc in docs:
        for block, prefix in prefixes.items():
            entries = doc.get(block, [])
            for entry in entries if isinstance(entries, list) else [entries]:
                for name, body in entry.items():
                    if block in ("resource", "data"):
                        declared.update(f"{prefix}{name}.{inner}" for inner in body)
                    else:
                        declared.add(f"{prefix}{name}")
    return {d.replace('"', "") for d in declared}, "".join(f.read_text() for f in files)


def test_terraform_output_is_json_with_the_expected_resources_and_resolves(terraform_dir):
    chalice_tf = json.loads((terraform_dir / "chalice.tf.json").read_text())
    resources = chalice_tf["resource"]
    assert set(resources["aws_lambda_function"]) == {"api_handler", "resize_image", "sweep_stuck_images"}
    assert resources["aws_s3_bucket_notification"]["input_notify"]["bucket"] == "${aws_s3_bucket.input.bucket}"
    assert set(resources["aws_iam_role_policy"]) == {
        "api_handler_role", "resize_image_role", "sweep_stuck_images_role"}
    assert "aws_api_gateway_rest_api" in resources

    declared, text = terraform_declarations(terraform_dir)
    assert {"aws_s3_bucket.input", "aws_dynamodb_table.status", "aws_sqs_queue.dead_letter",
            "aws_lambda_function_event_invoke_config.resize_image"} <= declared
    referenced = set(re.findall(r"\b((?:data\.)?aws_\w+\.[\w-]+|var\.\w+|local\.\w+)", text))
    unresolved = referenced - declared
    assert not unresolved, f"references to undeclared Terraform blocks: {sorted(unresolved)}"


@pytest.mark.skipif(not shutil.which("terraform"), reason="terraform is not installed")
def test_terraform_files_are_formatted():
    # `terraform validate` needs the AWS provider from the registry, which this
    # machine cannot reach; `fmt` parses without it.
    result = subprocess.run(["terraform", "fmt", "-check", "-diff", str(build.TERRAFORM_DIR)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_zip_bundles_manylinux_pillow_and_imports_in_a_clean_python(cfn_template, tmp_path):
    with zipfile.ZipFile(cfn_template.with_name("deployment.zip")) as archive:
        archive.extractall(tmp_path)
    wheel = next(tmp_path.glob("pillow-*.dist-info")) / "WHEEL"
    assert re.search(r"^Tag: cp312-cp312-manylinux\w+_x86_64$", wheel.read_text(), re.M), wheel.read_text()

    bundled = {p.name for p in (tmp_path / "pillow.libs").iterdir()}
    for so in tmp_path.glob("PIL/*.so"):
        dynamic = subprocess.run(["readelf", "-d", str(so)], capture_output=True, text=True, check=True).stdout
        needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dynamic))
        outside = needed - bundled - MANYLINUX_SYSTEM_LIBS
        assert not outside, f"{so.name} needs system libraries: {sorted(outside)}"

    # Lambda's python3.12: the zip on sys.path and nothing else (-S: no site-packages).
    env = {"PATH": os.environ["PATH"], "AWS_DEFAULT_REGION": "us-east-1", "INPUT_BUCKET": "in",
           "OUTPUT_BUCKET": "out", "STATUS_TABLE": "status"}
    check = (
        "import os, sys; sys.path.insert(0, os.getcwd()); import app, PIL.features as f;"
        "assert app.__file__.startswith(sys.path[0]) and f.check('webp') and f.check('jpg');"
        "assert callable(app.resize_image); print(app.app.app_name)"
    )
    for trigger in ("s3_event", "template"):
        result = subprocess.run(
            [sys._base_executable, "-S", "-c", check], cwd=tmp_path, capture_output=True, text=True,
            env={**env, "RESIZE_TRIGGER": trigger},
        )
        assert result.returncode == 0 and result.stdout.strip() == "imgpipe", result.stderr
