"""The deploy artifacts build and hold together, as far as is checkable offline.

`chalice package` runs for real (once per module, ~5 s each); the templates are
linted with cfn-lint before and after the SAM transform (where circular
dependencies show); Terraform's references are resolved without providers, then
`terraform init` from a local provider mirror, `validate` and `test` (mocked
provider) where terraform is installed; checkov scans every template; the
deployment zip imports in a clean Python with only its own libraries.
"""

import fnmatch
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
from chalicelib.storage import FAILED_SOURCE_TAG
from deploy import apigw, aws, build, policies, preflight
from deploy.rehearse_terraform import tf_plugin_dir

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
    for field in ("AttributeDefinitions", "GlobalSecondaryIndexes"):
        assert sorted(map(json.dumps, table[field])) == sorted(map(json.dumps, expected[field])), field
    for field in ("KeySchema", "BillingMode"):
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
    """Every `type.name`, `data.type.name`, `var.name`, `local.name` declared; all the text
    but `moved` blocks."""
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
    # A `moved` block names an address that is, by design, no longer declared.
    text = re.sub(r"^moved \{.*?^\}", "", "".join(f.read_text() for f in files), flags=re.M | re.S)
    return {d.replace('"', "") for d in declared}, text


def test_terraform_output_is_json_with_the_expected_resources_and_resolves(terraform_dir):
    chalice_tf = json.loads((terraform_dir / "chalice.tf.json").read_text())
    resources = chalice_tf["resource"]
    assert set(resources["aws_lambda_function"]) == {
        "api_handler", "resize_image", "sweep_stuck_images", "backfill_image", "render_variant"}
    assert resources["aws_s3_bucket_notification"]["input_notify"]["bucket"] == "${aws_s3_bucket.input.bucket}"
    assert set(resources["aws_iam_role_policy"]) == {
        "api_handler_role", "resize_image_role", "sweep_stuck_images_role", "backfill_image_role",
        "render_variant_role"}
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


# The variant route is public: its signature is the authorization (docs/VARIANTS.md).
OPEN_ROUTES = {("/", "get"), ("/health", "get"), ("/v/{signature}/{image_id}/{options}", "get")}


def swaggers(cfn_template: Path, terraform_dir: Path) -> dict[str, dict]:
    """The API definition each package deploys: SAM's DefinitionBody, Terraform's local."""
    sam = json.loads(cfn_template.read_text())["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    tf_locals = json.loads((terraform_dir / "chalice.tf.json").read_text())["locals"]
    tf = json.loads(tf_locals["chalice_api_swagger"])
    return {"cloudformation": sam, "terraform": tf}


def test_every_route_but_the_page_and_health_needs_a_user_token_in_every_package(cfn_template, terraform_dir):
    """Issue 18: packaged stages default to per-user identity, the pool the package makes itself."""
    pools = {"cloudformation": [{"Fn::If": ["CreateUserPool", {"Fn::GetAtt": ["UserPool", "Arn"]},
                                            {"Ref": "CognitoUserPoolArn"}]}],
             "terraform": ["${local.user_pool_arn}"]}
    for path_name, swagger in swaggers(cfn_template, terraform_dir).items():
        authorizer = swagger["securityDefinitions"]["imgpipe-users"]["x-amazon-apigateway-authorizer"]
        assert authorizer == {"type": "cognito_user_pools", "providerARNs": pools[path_name]}, path_name
        assert "api_key" not in swagger["securityDefinitions"], path_name  # keys meter, they do not identify
        routes = {(p, m): op for p, ops in swagger["paths"].items() for m, op in ops.items()
                  if m != "options"}
        assert len(routes) == 9, path_name  # 7, and the two of on-demand variants
        for route, operation in routes.items():
            expected = [] if route in OPEN_ROUTES else [{"imgpipe-users": []}]
            assert operation.get("security", []) == expected, (path_name, route)
    # A key meters through a usage plan attached to the stage: every path makes one.
    resources = json.loads(cfn_template.read_text())["Resources"]
    stage = {"ApiId": {"Ref": "RestAPI"}, "Stage": {"Ref": "RestAPI.Stage"}}
    assert resources["UsagePlan"]["Properties"]["ApiStages"] == [stage]
    assert resources["UsagePlanKey"]["Properties"]["KeyId"] == {"Ref": "ApiKey"}
    _, text = terraform_declarations(terraform_dir)
    assert 'resource "aws_api_gateway_usage_plan_key" "default"' in text


def test_api_gateway_own_errors_use_the_api_error_shape(cfn_template, terraform_dir):
    for path_name, swagger in swaggers(cfn_template, terraform_dir).items():
        responses = swagger["x-amazon-apigateway-gateway-responses"]
        assert {"DEFAULT_4XX", "DEFAULT_5XX", "MISSING_AUTHENTICATION_TOKEN", "UNAUTHORIZED", "ACCESS_DENIED",
                "INVALID_API_KEY", "THROTTLED", "QUOTA_EXCEEDED"} <= set(responses), path_name
        for kind, response in responses.items():
            assert response["responseParameters"] == apigw.NOSNIFF
            assert apigw.NOSNIFF == {"gatewayresponse.header.X-Content-Type-Options": "'nosniff'"}
            body = json.loads(response["responseTemplates"]["application/json"])
            assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, kind
        unknown_route = responses["MISSING_AUTHENTICATION_TOKEN"]
        assert unknown_route["statusCode"] == "404"
        assert json.loads(unknown_route["responseTemplates"]["application/json"]) == {
            "error": {"code": "not_found", "message": "No such route."}}
        missing_key = responses["INVALID_API_KEY"]
        assert missing_key["statusCode"] == "403"
        missing_key_body = json.loads(missing_key["responseTemplates"]["application/json"])
        assert missing_key_body["error"]["code"] == "forbidden"


def test_packaged_cloudformation_logs_throttles_and_alarms(cfn_template):
    template = json.loads(cfn_template.read_text())
    params, resources = template["Parameters"], template["Resources"]
    assert params["LogRetentionDays"]["Default"] == 30
    for logical, (function, log_group) in build.FUNCTION_LOG_GROUPS.items():
        fn = resources[logical]
        group = resources[log_group]["Properties"]
        name = fn["Properties"]["FunctionName"]["Fn::Sub"]
        assert group["LogGroupName"] == {"Fn::Sub": "/aws/lambda/" + name}
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert fn["DependsOn"] == [log_group]
        assert fn["Properties"]["ReservedConcurrentExecutions"] > 0, logical
        # The role may write to this group only (and not create others).
        role_text = json.dumps(resources[fn["Properties"]["Role"]["Fn::GetAtt"][0]])
        assert "/aws/lambda/*" not in role_text and "logs:CreateLogGroup" not in role_text
        assert fn["Properties"]["FunctionName"]["Fn::Sub"] + ":*" in role_text
    api = resources["RestAPI"]["Properties"]
    assert api["MethodSettings"][0]["ThrottlingRateLimit"] == {"Ref": "ThrottleRate"}
    assert api["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    assert json.loads(api["AccessLogSetting"]["Format"])["status"] == "$context.status"
    assert resources["SweepStuckImages"]["Properties"]["DeadLetterQueue"]["Type"] == "SQS"
    # Access logging fails until API Gateway's account role exists: the API waits for it.
    assert resources["RestAPI"]["DependsOn"] == ["ApiGatewayAccountReady"]
    ready = json.dumps(resources["ApiGatewayAccountReady"]["Metadata"])
    assert '{"Ref": "ApiGatewayAccount"}' in ready
    assert resources["DeadLetterQueue"]["DeletionPolicy"] == "Retain"

    alarms = {k: r["Properties"] for k, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert {"ApiErrorsAlarm", "ApiLatencyAlarm", "SweeperErrorsAlarm", "DeadLetterAgeAlarm"} <= set(alarms)
    to_topic = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], [{"Ref": "AlarmTopic"}]]}
    assert all(a["AlarmActions"] == to_topic for a in alarms.values()), "every alarm must notify someone"
    assert resources["AlarmTopic"]["Condition"] == "CreateAlarmTopic"
    assert resources["AlarmEmailSubscription"]["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}


def test_packaged_cloudformation_expires_the_sources_of_failed_uploads(cfn_template):
    template = json.loads(cfn_template.read_text())
    assert template["Parameters"]["FailedSourceRetentionDays"]["Default"] == 30
    rules = template["Resources"]["InputBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    rule = next(r for r in rules if r["Id"] == "expire-failed-sources")
    assert rule["TagFilters"] == [FAILED_SOURCE_TAG]  # the tag the pipeline puts on them
    assert rule["ExpirationInDays"] == {"Fn::If": ["ExpireFailedSources", {"Ref": "FailedSourceRetentionDays"}, 1]}
    assert rule["Status"] == {"Fn::If": ["ExpireFailedSources", "Enabled", "Disabled"]}
    condition = template["Conditions"]["ExpireFailedSources"]
    assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": "FailedSourceRetentionDays"}, 0]}]}
    # Path 1 passes the stage's setting to the same template.
    assert build.resource_parameters("prod")["FailedSourceRetentionDays"] == "30"


def test_packaged_cloudformation_places_the_functions_in_a_vpc_only_when_given_subnets(cfn_template):
    template = json.loads(cfn_template.read_text())
    params, resources = template["Parameters"], template["Resources"]
    assert all(params[p]["Default"] == "" for p in ("SubnetIds", "SecurityGroupIds", "VpcId", "RouteTableIds"))
    assert template["Conditions"]["InVpc"] == {
        "Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "SubnetIds"}]}, ""]}]}
    vpc_statement = {"Fn::If": ["InVpc", policies.VPC_ACCESS, {"Ref": "AWS::NoValue"}]}
    for logical in build.FUNCTION_LOG_GROUPS:
        fn = resources[logical]["Properties"]
        assert fn["VpcConfig"] == {"Fn::If": ["InVpc", {"SubnetIds": {"Ref": "SubnetIds"},
                                                        "SecurityGroupIds": {"Ref": "SecurityGroupIds"}},
                                              {"Ref": "AWS::NoValue"}]}
        role = resources[fn["Role"]["Fn::GetAtt"][0]]["Properties"]
        assert vpc_statement in role["Policies"][0]["PolicyDocument"]["Statement"], logical
    for logical, service in (("S3GatewayEndpoint", "s3"), ("DynamoDbGatewayEndpoint", "dynamodb")):
        endpoint = resources[logical]
        assert endpoint["Condition"] == "CreateVpcEndpoints"
        assert endpoint["Properties"]["VpcEndpointType"] == "Gateway"
        assert endpoint["Properties"]["ServiceName"] == {"Fn::Sub": "com.amazonaws.${AWS::Region}." + service}
        assert endpoint["Properties"]["RouteTableIds"] == {"Ref": "RouteTableIds"}
    expanded = sam_expand(template)["Resources"]["ResizeImage"]["Properties"]
    assert expanded["VpcConfig"]["Fn::If"][0] == "InVpc"  # survives the SAM transform


def test_terraform_vpc_grant_is_the_same_as_the_other_paths():
    vpc_tf = (build.TERRAFORM_DIR / "vpc.tf").read_text()
    assert re.findall(r'"(ec2:\w+)"', vpc_tf) == policies.VPC_ACCESS_ACTIONS


@pytest.mark.parametrize(("subnets", "tracing"), [([], False), (["subnet-0a", "subnet-0b"], True)])
def test_path_one_vpc_and_tracing_only_when_asked(subnets, tracing, tmp_path, monkeypatch):
    for name in ("config.json", *(f"policy-{short}.json" for short in policies.FUNCTIONS.values())):
        shutil.copy(policies.CHALICE_DIR / name, tmp_path / name)
    monkeypatch.setattr(policies, "CHALICE_DIR", tmp_path)
    monkeypatch.setattr(aws, "CONFIG", tmp_path / "config.json")
    groups = ["sg-0c"] if subnets else []
    settings = {**build.stage_settings("dev"), "subnet_ids": subnets, "security_group_ids": groups,
                "tracing": tracing}
    monkeypatch.setattr(aws, "stage_settings", lambda stage: settings)
    outputs = {"InputBucket": "in", "OutputBucket": "out", "StatusTable": "status",
               "DeadLetterQueueArn": "arn:q", "CdnDomain": "", "EventBusName": "imgpipe-dev",
               "WebhookSecretArn": "arn:secret", "VariantSecretArn": "arn:variant-secret"}
    aws.configure_stage("dev", outputs, "000000000000", "eu-west-1", "aws")
    stage = json.loads((tmp_path / "config.json").read_text())["stages"]["dev"]
    functions = stage["lambda_functions"]
    assert functions["api_handler"]["environment_variables"] == {
        "CDN_DOMAIN": "", "RESIZE_FUNCTION": "imgpipe-dev-resize_image", "VARIANT_SECRET_ARN": "arn:variant-secret",
        "CDN_DISTRIBUTION_ID": "",  # no CDN: nothing to invalidate
        "RENDER_FUNCTION": "imgpipe-dev-render_variant"}
    for function in policies.FINISHERS:
        assert functions[function]["environment_variables"] == {
            "EVENT_BUS_NAME": "imgpipe-dev", "WEBHOOK_SECRET_ARN": "arn:secret"}, function
    api_policy = json.loads((tmp_path / "policy-dev-api.json").read_text())
    assert {"Sid": "RerenderAfterFocusChange", "Effect": "Allow", "Action": "lambda:InvokeFunction",
            "Resource": "arn:aws:lambda:eu-west-1:000000000000:function:imgpipe-dev-resize_image"} in \
        api_policy["Statement"]
    assert stage.get("subnet_ids") == (subnets or None)
    assert stage.get("security_group_ids") == (["sg-0c"] if subnets else None)
    for short in policies.FUNCTIONS.values():
        statements = json.loads((tmp_path / f"policy-dev-{short}.json").read_text())["Statement"]
        assert (policies.VPC_ACCESS in statements) == bool(subnets), short
        assert (policies.XRAY_WRITE in statements) == tracing, short
    assert stage["xray"] == tracing and stage["environment_variables"]["TRACING"] == str(tracing).lower()


def test_packaged_cloudformation_is_untraced_by_default(cfn_template):
    resources = json.loads(cfn_template.read_text())["Resources"]
    for logical in build.FUNCTION_LOG_GROUPS:
        fn = resources[logical]["Properties"]
        assert fn["Environment"]["Variables"]["TRACING"] == "false" and fn["Tracing"] == "PassThrough"
        assert "xray:" not in json.dumps(resources[fn["Role"]["Fn::GetAtt"][0]]), logical


def test_the_packaged_stack_makes_the_user_pool_or_takes_an_existing_one(monkeypatch):
    """Path 2 defaults to per-user identity: deploy/users.py's pool, client, hosted UI and admin group
    (the very resources of path 1's users stack) under CreateUserPool, or the pool CognitoUserPoolArn names."""
    from deploy import users

    template = build.merge_template("cfn")
    params, resources = template["Parameters"], template["Resources"]
    assert params["CognitoUserPoolArn"]["Default"] == ""  # the stack makes one
    assert template["Conditions"]["CreateUserPool"] == {"Fn::Equals": [{"Ref": "CognitoUserPoolArn"}, ""]}
    for name, resource in users.pool_resources().items():
        assert resources[name] == {**resource, "Condition": "CreateUserPool"}, name
    pool = {"Fn::If": ["CreateUserPool", {"Fn::GetAtt": ["UserPool", "Arn"]}, {"Ref": "CognitoUserPoolArn"}]}
    body = resources["RestAPI"]["Properties"]["DefinitionBody"]
    assert body["securityDefinitions"]["imgpipe-users"]["x-amazon-apigateway-authorizer"]["providerARNs"] == [pool]
    for logical in build.FUNCTION_LOG_GROUPS:
        assert resources[logical]["Properties"]["Environment"]["Variables"]["COGNITO_USER_POOL_ARN"] == pool
    api_env = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert api_env["SIGN_IN_CLIENT_ID"] == {"Fn::If": ["CreateUserPool", {"Ref": "PageClient"},
                                                       {"Ref": "SignInClientId"}]}
    assert api_env["SIGN_IN_URL"]["Fn::If"][1] == {"Fn::Sub": users.SIGN_IN_URL_SUB}
    assert api_env["ADMIN_GROUP"] == {"Ref": "AdminGroup"}

    config = build.load_config()
    arn = "arn:aws:cognito-idp:eu-west-1:111111111111:userpool/eu-west-1_x"
    config["stages"]["cfn"]["environment_variables"].update(AUTH="cognito", COGNITO_USER_POOL_ARN=arn)
    monkeypatch.setattr(build, "load_config", lambda: config)
    assert build.merge_template("cfn")["Parameters"]["CognitoUserPoolArn"]["Default"] == arn
    config["stages"]["cfn"]["environment_variables"]["AUTH"] = "api_key"  # named explicitly: no pool
    assert "CognitoUserPoolArn" not in json.dumps(build.merge_template("cfn"))


def test_the_dashboard_charts_metrics_the_code_emits():
    body = RESOURCES["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    charted = set(re.findall(r'\["imgpipe", "(\w+)"', body))
    charted |= set(re.findall(r'MetricName=\\"(\w+)\\"', body))
    emitted = set(re.findall(r'name="(\w+)"', (build.ROOT / "chalicelib" / "observability.py").read_text()))
    assert charted == {"ImagesProcessed", "ProcessingTime", "ImagesFailed"} and charted <= emitted
    tf_dashboard = (build.TERRAFORM_DIR / "alarms.tf").read_text()
    assert all(name in tf_dashboard for name in charted)


def test_path_one_wires_what_chalice_deploy_leaves_out(tmp_path, monkeypatch):
    """The API stack lints; gateway responses and stage settings land on the stage (moto)."""
    (tmp_path / "api.json").write_text(json.dumps(apigw.api_stack_template()))
    cfn_lint(tmp_path / "api.json")
    from moto import mock_aws

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        import boto3

        client = boto3.client("apigateway", region_name="eu-west-1")
        api = client.create_rest_api(name="imgpipe")["id"]
        root = client.get_resources(restApiId=api)["items"][0]["id"]
        client.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
        client.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
        client.create_deployment(restApiId=api, stageName="api")
        log_group = "arn:aws:logs:eu-west-1:000000000000:log-group:/aws/apigateway/imgpipe-dev-access"
        apigw.wire_api(client, api, 20, 40, log_group, False)
        stage = client.get_stage(restApiId=api, stageName="api")
        unknown = client.get_gateway_response(restApiId=api, responseType="MISSING_AUTHENTICATION_TOKEN")
    assert stage["methodSettings"]["*/*"]["throttlingRateLimit"] == 20.0
    assert stage["methodSettings"]["*/*"]["throttlingBurstLimit"] == 40
    assert stage["accessLogSettings"]["destinationArn"] == log_group
    assert unknown["statusCode"] == "404" and "nosniff" in unknown["responseParameters"][
        "gatewayresponse.header.X-Content-Type-Options"]


def test_make_deploy_warns_only_when_a_stage_is_open(monkeypatch):
    config = build.load_config()
    assert preflight.auth_warning("dev") is None and preflight.auth_warning("prod") is None
    config["stages"]["dev"]["environment_variables"]["AUTH"] = "none"
    monkeypatch.setattr(preflight, "load_config", lambda: config)
    warning = preflight.auth_warning("dev")
    assert warning.startswith("WARNING: stage dev sets AUTH=none")
    assert "DELETE /images/{id}" in warning and "POST /uploads" in warning


def terraform(directory: Path, *args: str) -> None:
    env = {**os.environ, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1", "TF_CLI_CONFIG_FILE": os.devnull}
    result = subprocess.run(["terraform", f"-chdir={directory}", *args, "-no-color"], capture_output=True,
                            text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(not shutil.which("terraform"), reason="terraform is not installed")
@pytest.mark.skipif(tf_plugin_dir() is None,
                    reason="no AWS provider mirror (a folder named tf-plugins, or TF_PLUGIN_DIR)")
def test_terraform_inits_from_the_mirror_validates_and_plans_with_a_mocked_provider(terraform_dir):
    # The shipped lock file must match the mirror: init fails on a checksum mismatch.
    terraform(terraform_dir, "init", "-backend=false", "-input=false", f"-plugin-dir={tf_plugin_dir()}")
    terraform(terraform_dir, "validate")
    terraform(terraform_dir, "test")  # infra/terraform/tests/plan.tftest.hcl


def test_terraform_notification_waits_for_the_permission_and_state_stays_outside(terraform_dir):
    resources = json.loads((terraform_dir / "chalice.tf.json").read_text())["resource"]
    notify = resources["aws_s3_bucket_notification"]["input_notify"]
    assert notify["depends_on"] == ["aws_lambda_permission.resize_image-s3event"]
    assert "stage_name" not in resources["aws_api_gateway_deployment"]["rest_api"]  # gone in provider 6
    # `make package-terraform` rebuilds build/terraform; the state must not live there.
    state = re.search(r'path\s*=\s*"([^"]+)"', (terraform_dir / "backend.tf").read_text())[1]
    expected = build.ROOT / "terraform-state" / "terraform.tfstate"
    assert (build.ROOT / "build" / "terraform" / state).resolve() == expected
    outputs = set(re.findall(r'^output "(\w+)"', (terraform_dir / "outputs.tf").read_text(), re.M))
    assert {"api_url", "input_bucket", "output_bucket", "status_table", "dead_letter_queue"} <= outputs


SUPPRESSIONS = json.loads((build.ROOT / "infra" / "checkov-suppressions.json").read_text())
SUPPRESSIONS.pop("_comment")


def checkov_binary() -> str | None:
    local = build.ROOT / ".venv-checkov" / "bin" / "checkov"
    return str(local) if local.exists() else shutil.which("checkov")


def checkov_findings(*args: str) -> set[tuple[str, str]]:
    """(check id, resource) of every failed check; checkov never calls home (--skip-download)."""
    command = [checkov_binary(), *args, "--skip-download", "--quiet", "--compact", "-o", "json"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "BC_SKIP_MAPPING": "TRUE"})
    assert result.returncode in (0, 1), result.stderr[-2000:]
    reports = json.loads(result.stdout)
    findings = set()
    for report in reports if isinstance(reports, list) else [reports]:
        if isinstance(report, dict) and "results" in report:
            findings |= {(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]}
    return findings


def suppressed(check_id: str, resource: str) -> bool:
    patterns = SUPPRESSIONS.get(check_id, {}).get("resources", [])
    return any(p == resource or fnmatch.fnmatchcase(resource, p) for p in patterns)


@pytest.mark.skipif(checkov_binary() is None, reason="checkov is not installed (make test installs it)")
def test_checkov_finds_nothing_unaccepted_in_any_template(cfn_template, terraform_dir, tmp_path):
    (tmp_path / "api-stack.json").write_text(json.dumps(apigw.api_stack_template()))
    templates = [build.RESOURCES, cfn_template, tmp_path / "api-stack.json"]
    findings = checkov_findings("--framework", "cloudformation", *(f"--file={t}" for t in templates))
    findings |= checkov_findings("--framework", "terraform", "terraform_json", "-d", str(terraform_dir),
                                 "--skip-path", ".terraform")
    assert findings, "checkov reported nothing at all: did it run?"
    unaccepted = sorted(f for f in findings if not suppressed(*f))
    assert not unaccepted, f"fix, or add with a reason to infra/checkov-suppressions.json: {unaccepted}"
    stale = sorted(check for check in SUPPRESSIONS if not any(f[0] == check for f in findings))
    assert not stale, f"suppressions that match no finding any more: {stale}"
    assert all(entry["reason"].strip() for entry in SUPPRESSIONS.values())


def test_the_zip_bundles_manylinux_pillow_and_imports_in_a_clean_python(cfn_template, tmp_path):
    with zipfile.ZipFile(cfn_template.with_name("deployment.zip")) as archive:
        archive.extractall(tmp_path)
    # Data files under chalicelib/ ship too: untagged CMYK's press profile (docs/FORMATS.md, Colour).
    profile = tmp_path / "chalicelib" / "imaging" / "profiles" / "cmyk-chemical-proof.icc"
    assert profile.stat().st_size > 900_000
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


def role_statements(resources: dict, function: str) -> list[dict]:
    """The inline policy statements of a packaged function's role."""
    role = resources[resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
    return [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"] if isinstance(s, dict)
            and "Sid" in s]


def test_packaged_cloudformation_serves_renditions_through_a_private_cloudfront(cfn_template):
    template = json.loads(cfn_template.read_text())
    params, conditions, resources = template["Parameters"], template["Conditions"], template["Resources"]
    assert params["EnableCdn"]["Default"] == "true"  # the cfn stage's `cdn`
    assert build.resource_parameters("prod")["EnableCdn"] == "true"
    assert build.resource_parameters("dev")["EnableCdn"] == "false"
    assert conditions["Cdn"] == {"Fn::Equals": [{"Ref": "EnableCdn"}, "true"]}
    cdn = resources["CdnDistribution"]
    assert cdn["Condition"] == "Cdn"
    config = cdn["Properties"]["DistributionConfig"]
    assert config["HttpVersion"] == "http2and3"
    origin, _api = config["Origins"]  # and the API's, for /v/* (test_cdn_variants.py)
    assert origin["DomainName"] == {"Fn::GetAtt": ["OutputBucket", "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["CdnOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # OAC, not the legacy OAI
    oac = resources["CdnOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"], oac["SigningProtocol"]) == (
        "s3", "always", "sigv4")
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] in ("redirect-to-https", "https-only")
    assert behavior["AllowedMethods"] == ["GET", "HEAD"] and behavior["Compress"] is True
    assert behavior["CachePolicyId"] == {"Ref": "CdnCachePolicy"}
    assert behavior["ResponseHeadersPolicyId"] == {"Ref": "CdnResponseHeadersPolicy"}

    cache = resources["CdnCachePolicy"]["Properties"]["CachePolicyConfig"]
    key = cache["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["QueryStringsConfig"] == {"QueryStringBehavior": "whitelist", "QueryStrings": ["v"]}
    assert key["CookiesConfig"] == {"CookieBehavior": "none"}
    assert key["HeadersConfig"] == {"HeaderBehavior": "none"}
    assert key["EnableAcceptEncodingGzip"] and key["EnableAcceptEncodingBrotli"]
    assert cache["MinTTL"] >= 86400 and cache["DefaultTTL"] == cache["MaxTTL"] == 365 * 86400
    headers = resources["CdnResponseHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    assert headers["SecurityHeadersConfig"]["ContentTypeOptions"] == {"Override": True}
    assert headers["SecurityHeadersConfig"]["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000

    # Logs into the logs bucket when access logs are on; standard logging needs its ACLs.
    assert conditions["CdnAccessLogs"] == {"Fn::And": [{"Condition": "Cdn"}, {"Condition": "AccessLogs"}]}
    assert config["Logging"]["Fn::If"][0] == "CdnAccessLogs"
    logs_bucket = {"Fn::GetAtt": ["AccessLogsBucket", "RegionalDomainName"]}
    assert config["Logging"]["Fn::If"][1]["Bucket"] == logs_bucket
    ownership = resources["AccessLogsBucket"]["Properties"]["OwnershipControls"]["Rules"][0]
    ownership = ownership["ObjectOwnership"]
    assert ownership == {"Fn::If": ["CdnAccessLogs", "BucketOwnerPreferred", "BucketOwnerEnforced"]}

    # The bucket stays private: only this distribution may read, and only renditions.
    output = resources["OutputBucket"]["Properties"]
    assert all(output["PublicAccessBlockConfiguration"].values())
    statements = resources["OutputBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    [grant] = [s["Fn::If"] for s in statements if "Fn::If" in s]
    assert grant[0] == "Cdn" and grant[2] == {"Ref": "AWS::NoValue"}
    assert grant[1]["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert grant[1]["Action"] == "s3:GetObject"
    assert grant[1]["Condition"]["StringEquals"]["AWS:SourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${CdnDistribution}"}
    assert [r["Fn::Sub"].rsplit("}", 1)[1] for r in grant[1]["Resource"]] == ["/renditions/*", "/processed-*", "/variants/*"]

    # Its domain reaches the API function (CDN_DOMAIN), and only it; empty without the CDN.
    domain = {"Fn::If": ["Cdn", {"Fn::GetAtt": ["CdnDistribution", "DomainName"]}, ""]}
    assert resources["APIHandler"]["Properties"]["Environment"]["Variables"]["CDN_DOMAIN"] == domain
    assert template["Outputs"]["CdnDomain"]["Value"] == domain
    for logical in ("ResizeImage", "SweepStuckImages", "BackfillImage"):
        assert "CDN_DOMAIN" not in resources[logical]["Properties"]["Environment"]["Variables"], logical


def test_packaged_cloudformation_has_the_bus_the_secret_and_least_privilege_for_them(cfn_template):
    template = json.loads(cfn_template.read_text())
    resources = template["Resources"]
    assert resources["EventBus"]["Properties"]["Name"] == {"Fn::Sub": "imgpipe-${Stage}"}
    secret = resources["WebhookSecret"]["Properties"]
    assert secret["GenerateSecretString"]["PasswordLength"] >= 32 and "SecretString" not in secret
    bus_arn = {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:"
                          "event-bus/${EventBus}"}
    for logical in ("ResizeImage", "SweepStuckImages", "BackfillImage"):
        env = resources[logical]["Properties"]["Environment"]["Variables"]
        assert env["EVENT_BUS_NAME"] == {"Ref": "EventBus"}, logical
        assert env["WEBHOOK_SECRET_ARN"] == {"Ref": "WebhookSecret"}, logical
        statements = role_statements(resources, logical)
        by_action = {s["Action"]: s["Resource"] for s in statements if isinstance(s["Action"], str)}
        assert by_action["events:PutEvents"] == bus_arn, logical
        assert by_action["secretsmanager:GetSecretValue"] == {"Fn::Sub": "${WebhookSecret}"}, logical
    api_env = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert "EVENT_BUS_NAME" not in api_env and "WEBHOOK_SECRET_ARN" not in api_env
    assert api_env["RESIZE_FUNCTION"] == {"Fn::Sub": "imgpipe-${Stage}-resize_image"}
    # The API reads one secret, the variant URLs' (docs/VARIANTS.md), never the webhook secret.
    api_statements = role_statements(resources, "APIHandler")
    [variant_secret] = [s for s in api_statements if "secretsmanager:" in json.dumps(s)]
    assert variant_secret["Action"] == "secretsmanager:GetSecretValue"
    assert variant_secret["Resource"] == {"Fn::Sub": "${VariantSecret}"}
    assert api_env["VARIANT_SECRET_ARN"] == {"Ref": "VariantSecret"}
    api_actions = json.dumps([s for s in api_statements if s is not variant_secret])
    assert "events:" not in api_actions and "secretsmanager:" not in api_actions
    [invoke] = [s for s in role_statements(resources, "APIHandler") if s["Sid"] == "RerenderAfterFocusChange"]
    assert invoke["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:"
                                              "function:imgpipe-${Stage}-resize_image"}
    assert {"EventBusName", "WebhookSecretArn"} <= set(template["Outputs"])


def test_packaged_cloudformation_has_the_backfill_function_and_the_batch_operations_role(cfn_template):
    template = json.loads(cfn_template.read_text())
    resources = template["Resources"]
    backfill = resources["BackfillImage"]
    assert backfill["Properties"]["Handler"] == "app.backfill_image"
    assert backfill["Properties"]["FunctionName"] == {"Fn::Sub": "imgpipe-${Stage}-backfill_image"}
    assert backfill["DependsOn"] == ["BackfillImageLogGroup"]
    assert backfill["Properties"]["Timeout"] < 90  # below the processing lease, like resize
    alarm = resources["BackfillErrorsAlarm"]["Properties"]
    name = {"Fn::Sub": "imgpipe-${Stage}-backfill_image"}
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": name}]

    role = resources["BatchOperationsRole"]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "batchoperations.s3.amazonaws.com"}
    grants = {s["Sid"]: s for s in role["Policies"][0]["PolicyDocument"]["Statement"]}
    assert grants["InvokeBackfill"]["Action"] == "lambda:InvokeFunction"
    function_arn_end = ":function:imgpipe-${Stage}-backfill_image"
    assert grants["InvokeBackfill"]["Resource"]["Fn::Sub"].endswith(function_arn_end)
    assert grants["ReadManifests"]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert grants["ReadManifests"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::${OutputBucket}/batch/manifests/*"}
    reports = {"Fn::Sub": "arn:${AWS::Partition}:s3:::${OutputBucket}/batch/reports/*"}
    assert grants["WriteReports"] == {"Sid": "WriteReports", "Effect": "Allow", "Action": "s3:PutObject",
                                      "Resource": reports}
    assert set(grants) == {"InvokeBackfill", "ReadManifests", "WriteReports"}
    outputs = template["Outputs"]
    assert outputs["BatchOperationsRoleArn"]["Value"] == {"Fn::GetAtt": ["BatchOperationsRole", "Arn"]}
    assert outputs["BackfillFunctionArn"]["Value"]["Fn::Sub"].endswith(function_arn_end)
    # The manifest and report prefixes are the ones `reprocess --batch` writes to.
    from imgpipe.backfill import MANIFEST_PREFIX, REPORT_PREFIX

    assert grants["ReadManifests"]["Resource"]["Fn::Sub"].endswith(f"/{MANIFEST_PREFIX}*")
    assert grants["WriteReports"]["Resource"]["Fn::Sub"].endswith(f"/{REPORT_PREFIX}/*")
    table = resources["StatusTable"]["Properties"]
    [by_webhook] = [i for i in table_definition("x")["GlobalSecondaryIndexes"] if i["IndexName"] == "by-webhook"]
    assert by_webhook in table["GlobalSecondaryIndexes"]
    # An S3 Inventory of the input bucket may be delivered where the role reads manifests.
    bucket_policy = resources["OutputBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    [inventory] = [s for s in bucket_policy if s.get("Sid") == "InventoryOfInputForBackfills"]
    assert inventory["Principal"] == {"Service": "s3.amazonaws.com"} and inventory["Action"] == "s3:PutObject"
    assert inventory["Resource"]["Fn::Sub"].endswith(f"/{MANIFEST_PREFIX}inventory/*")
    assert inventory["Condition"]["ArnLike"]["aws:SourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::${InputBucket}"}


def unquoted(node: object) -> object:
    """python-hcl2 keeps the quotes of string literals: drop them."""
    if isinstance(node, dict):
        return {unquoted(k): unquoted(v) for k, v in node.items()}
    if isinstance(node, list):
        return [unquoted(v) for v in node]
    if isinstance(node, str) and len(node) > 1 and node[0] == node[-1] == '"':
        return node[1:-1]
    return node


def hcl_blocks(terraform_dir: Path, kind: str) -> dict[str, dict]:
    """`type.name` → body of every resource (or data, ...) block in the .tf files."""
    blocks = {}
    for path in sorted(terraform_dir.glob("*.tf")):
        for entry in hcl2.loads(path.read_text()).get(kind, []):
            for type_, named in entry.items():
                for name, body in named.items():
                    blocks[f"{type_}.{name}".replace('"', "")] = unquoted(body)
    return blocks


def test_terraform_has_the_cdn_bus_secret_index_and_batch_role(terraform_dir):
    blocks = hcl_blocks(terraform_dir, "resource")
    cdn = blocks["aws_cloudfront_distribution.cdn"]
    assert cdn["count"] == "${var.cdn ? 1 : 0}" and cdn["http_version"] == "http2and3"
    oac_id = "${aws_cloudfront_origin_access_control.output[0].id}"
    assert cdn["origin"][0]["origin_access_control_id"] == oac_id
    behavior = cdn["default_cache_behavior"][0]
    assert behavior["viewer_protocol_policy"] == "redirect-to-https" and behavior["compress"] is True
    assert cdn["dynamic"][0]["logging_config"]["for_each"] == "${var.enable_access_logs ? [1] : []}"
    oac = blocks["aws_cloudfront_origin_access_control.output"]
    assert (oac["origin_access_control_origin_type"], oac["signing_behavior"]) == ("s3", "always")
    cache = blocks["aws_cloudfront_cache_policy.immutable"]
    key = cache["parameters_in_cache_key_and_forwarded_to_origin"][0]
    assert key["query_strings_config"][0]["query_strings"][0]["items"] == ["v"]
    assert key["cookies_config"][0]["cookie_behavior"] == "none"
    assert key["enable_accept_encoding_gzip"] and key["enable_accept_encoding_brotli"]
    security = blocks["aws_cloudfront_response_headers_policy.security"]["security_headers_config"][0]
    assert security["content_type_options"][0]["override"] is True
    bucket_policy = blocks["aws_s3_bucket_policy.tls_only"]["policy"]
    assert "cloudfront.amazonaws.com" in bucket_policy
    assert '"AWS:SourceArn" = distribution.arn' in bucket_policy

    assert blocks["aws_cloudwatch_event_bus.images"]["name"] == "imgpipe-${var.stage}"
    secret = blocks["aws_cloudformation_stack.webhook_secret"]["template_body"]
    assert "GenerateSecretString" in secret and "secret_string" not in json.dumps(blocks)
    role = blocks["aws_iam_role.batch_operations"]["assume_role_policy"]
    assert "batchoperations.s3.amazonaws.com" in role
    policy = blocks["aws_iam_role_policy.batch_operations"]["policy"]
    assert "aws_lambda_function.backfill_image.arn" in policy
    assert "/batch/manifests/*" in policy and "/batch/reports/*" in policy
    indexes = blocks["aws_dynamodb_table.status"]["global_secondary_index"]
    # The outbox's index; the unsharded by-webhook is kept by var.legacy_indexes (indexes.tftest.hcl).
    wanted = {"name": "by-webhook-sharded", "hash_key": "due_shard", "range_key": "webhook_next_at",
              "projection_type": "KEYS_ONLY"}
    assert any(wanted.items() <= index.items() for index in indexes)

    chalice_tf = json.loads((terraform_dir / "chalice.tf.json").read_text())["resource"]
    functions = chalice_tf["aws_lambda_function"]
    api_env = functions["api_handler"]["environment"]["variables"]
    assert api_env["CDN_DOMAIN"] == '${join("", aws_cloudfront_distribution.cdn[*].domain_name)}'
    assert api_env["RESIZE_FUNCTION"] == "${aws_lambda_function.resize_image.function_name}"
    for function in policies.FINISHERS:
        env = functions[function]["environment"]["variables"]
        assert env["EVENT_BUS_NAME"] == "${aws_cloudwatch_event_bus.images.name}", function
        assert env["WEBHOOK_SECRET_ARN"] == "${local.webhook_secret_arn}", function
        statements = json.loads(chalice_tf["aws_iam_role_policy"][f"{function}_role"]["policy"])["Statement"]
        bus = ("arn:${data.aws_partition.chalice.partition}:events:${data.aws_region.chalice.name}:"
               "${data.aws_caller_identity.chalice.account_id}:"
               "event-bus/${aws_cloudwatch_event_bus.images.name}")
        assert {"Sid": "PublishImageEvents", "Effect": "Allow", "Action": "events:PutEvents",
                "Resource": bus} in statements, function
    assert functions["backfill_image"]["handler"] == "app.backfill_image"
    outputs = set(re.findall(r'^output "(\w+)"', (terraform_dir / "outputs.tf").read_text(), re.M))
    assert {"cdn_domain", "event_bus_name", "webhook_secret_arn", "batch_operations_role_arn",
            "backfill_function_arn"} <= outputs


def test_packaged_stacks_invalidate_deleted_images_on_their_own_distribution_only(cfn_template, terraform_dir):
    """Issue 18 §5 on paths 2 and 3: CDN_DISTRIBUTION_ID from the distribution each makes, on the API
    function only, and a grant for cloudfront:CreateInvalidation on that distribution's ARN alone."""
    resources = json.loads(cfn_template.read_text())["Resources"]
    for logical in build.FUNCTION_LOG_GROUPS:
        variables = resources[logical]["Properties"]["Environment"]["Variables"]
        expected = {"Fn::If": ["Cdn", {"Ref": "CdnDistribution"}, ""]} if logical == "APIHandler" else None
        assert variables.get("CDN_DISTRIBUTION_ID") == expected, logical
        role = resources[resources[logical]["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
        statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
        grants = [s for s in statements if "cloudfront:" in json.dumps(s)]
        assert grants == ([build.CFN_INVALIDATION] if logical == "APIHandler" else []), logical
    statement = build.CFN_INVALIDATION["Fn::If"][1]
    assert statement["Action"] == "cloudfront:CreateInvalidation"
    assert statement["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:"
                                                "distribution/${CdnDistribution}"}

    functions = json.loads((terraform_dir / "chalice.tf.json").read_text())["resource"]["aws_lambda_function"]
    for name, function in functions.items():
        variable = function["environment"]["variables"].get("CDN_DISTRIBUTION_ID")
        assert variable == ('${join("", aws_cloudfront_distribution.cdn[*].id)}' if name == "api_handler"
                            else None), name
    blocks = hcl_blocks(terraform_dir, "resource")
    (grant,) = [body for name, body in blocks.items() if "cloudfront:" in json.dumps(body)]
    assert grant == blocks["aws_iam_role_policy.api_handler_invalidation"]
    assert grant["count"] == "${var.cdn ? 1 : 0}" and grant["role"] == "${aws_iam_role.api_handler_role.id}"
    assert "Resource = aws_cloudfront_distribution.cdn[0].arn" in (terraform_dir / "invalidation.tf").read_text()
    assert "cloudfront:" not in (terraform_dir / "chalice.tf.json").read_text()  # no other role gets it


def test_terraform_makes_the_user_pool_or_takes_an_existing_one(terraform_dir):
    """Path 3 defaults to per-user identity: users.tf makes the pool (deletion-protected), a public PKCE
    client and the admin group unless var.cognito_user_pool_arn names one; the page signs in there."""
    functions = json.loads((terraform_dir / "chalice.tf.json").read_text())["resource"]["aws_lambda_function"]
    api = functions["api_handler"]["environment"]["variables"]
    assert (api["AUTH"], api["COGNITO_USER_POOL_ARN"]) == ("cognito", "${local.user_pool_arn}")
    assert (api["SIGN_IN_URL"], api["SIGN_IN_CLIENT_ID"]) == ("${local.sign_in_url}", "${local.sign_in_client_id}")
    blocks = hcl_blocks(terraform_dir, "resource")
    pool = blocks["aws_cognito_user_pool.users"]
    assert pool["count"] == "${local.create_user_pool ? 1 : 0}"
    assert pool["deletion_protection"] == '${var.user_pool_deletion_protection ? "ACTIVE" : "INACTIVE"}'
    client = blocks["aws_cognito_user_pool_client.page"]
    assert client["generate_secret"] is False and client["allowed_oauth_flows"] == ["code"]
    assert blocks["aws_cognito_user_group.admins"]["name"] == "${var.admin_group}"
    text = (terraform_dir / "users.tf").read_text()
    assert 'create_user_pool  = var.cognito_user_pool_arn == ""' in text


def test_path_two_is_documented_with_its_capabilities_and_a_template_bucket(cfn_template):
    """The packaged template is over CloudFormation's TemplateBody limit even compact: `aws cloudformation
    deploy` must upload it (--s3-bucket), acknowledging what the rehearsal acknowledges."""
    from deploy import rules

    compact = json.dumps(json.loads(cfn_template.read_text()), separators=(",", ":"))
    with pytest.raises(rules.RuleBrokenError, match="TemplateBody"):
        rules.check_stack_call("imgpipe", compact, build.CFN_CAPABILITIES)
    docs = (build.ROOT / "docs" / "DEPLOY.md").read_text()
    commands = re.findall(r"aws cloudformation deploy .*?--parameter-overrides", docs, re.S)
    assert commands
    for command in commands:
        assert "--s3-bucket" in command, command
        assert re.search(r"--capabilities ([A-Z_ ]+)", command)[1].split() == build.CFN_CAPABILITIES
