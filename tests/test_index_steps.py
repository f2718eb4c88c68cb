"""One index per update: CloudFormation's and DynamoDB's rule in the rehearsal (deploy/rules.py),
the stepped deploy that keeps it (deploy/indexes.py, deploy/index_steps.py), and the stage
setting that drops the legacy indexes in every path (the migration's last step)."""

import json

import boto3
import pytest
from moto import mock_aws

from chalicelib.status.schema import table_definition
from deploy import aws, build, index_steps, indexes, moto_tables, rules

REGION = "eu-west-1"
STACK = "imgpipe-dev-resources"
TABLE = "imgpipe-dev-status"
SHARDED = {"by-created-sharded", "by-status-sharded", "by-owner", "by-webhook-sharded"}
LEGACY = {"by-created", "by-webhook"}


def legacy_template() -> dict:
    """infra/resources.json as it was before the sharded indexes: by-created, by-webhook, by-status."""
    template = json.loads(build.RESOURCES.read_text())
    legacy = json.loads(json.dumps(table_definition("x", legacy=True)))  # the schema's own dicts stay untouched
    properties = template["Resources"]["StatusTable"]["Properties"]
    properties["GlobalSecondaryIndexes"] = legacy["GlobalSecondaryIndexes"]
    properties["AttributeDefinitions"] = legacy["AttributeDefinitions"]
    return template


@pytest.fixture
def clients(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    from moto.dynamodb.models.table import Table

    monkeypatch.setattr(Table, "update_from_cloudformation_json", Table.update_from_cloudformation_json)
    moto_tables.install()  # moto's CloudFormation cannot update a table; undone by monkeypatch
    with mock_aws():
        cfn, s3 = boto3.client("cloudformation", region_name=REGION), boto3.client("s3", region_name=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        rules.enforce_on_cloudformation(cfn, s3)
        rules.enforce_on_dynamodb(dynamodb)
        upload = (s3, aws.artifacts_bucket(s3, "dev", "000000000000", REGION), REGION)
        yield cfn, dynamodb, upload


def deploy_legacy_stack(cfn, upload) -> None:
    aws.deploy_resources(cfn, STACK, aws.stack_parameters("dev"), json.dumps(legacy_template()), upload)


def table_index_names(dynamodb) -> set[str]:
    return {i["IndexName"] for i in dynamodb.describe_table(TableName=TABLE)["Table"]["GlobalSecondaryIndexes"]}


def test_cloudformation_refuses_two_index_changes_in_one_update_as_aws_does(clients):
    cfn, _, upload = clients
    deploy_legacy_stack(cfn, upload)
    current = aws.template_source(aws.resources_body("dev"), STACK, upload)
    with pytest.raises(rules.RuleBrokenError, match="Cannot perform more than one GSI creation or deletion "
                                                    r"in a single update \(table StatusTable: add by-created"):
        cfn.update_stack(StackName=STACK, Parameters=aws.stack_parameters("dev"), Capabilities=aws.CAPABILITIES,
                         **current)
    with pytest.raises(rules.RuleBrokenError, match="more than one GSI creation"):
        cfn.create_change_set(StackName=STACK, ChangeSetName="naive", Parameters=aws.stack_parameters("dev"),
                              Capabilities=aws.CAPABILITIES, **current)
    # A redefined index (same name, new projection) is a deletion and a creation: refused too.
    redefined = legacy_template()
    redefined["Resources"]["StatusTable"]["Properties"]["GlobalSecondaryIndexes"][0]["Projection"] = {
        "ProjectionType": "KEYS_ONLY"}
    assert "drop by-created" in rules.stack_index_problems(STACK, legacy_template(), redefined)[0]
    one = indexes.index_steps(legacy_template(), json.loads(aws.resources_body("dev")))[0].template
    assert rules.stack_index_problems(STACK, legacy_template(), one) == []


def test_dynamodb_refuses_two_index_changes_in_one_update_table(clients):
    _, dynamodb, _ = clients
    dynamodb.create_table(**table_definition(TABLE, legacy=True))
    new = [index for index in table_definition("x")["GlobalSecondaryIndexes"] if index["IndexName"] in SHARDED]
    attributes = table_definition("x")["AttributeDefinitions"]
    with pytest.raises(rules.RuleBrokenError, match=r"one global secondary index per call.*asks for 2 "
                                                    r"\(create by-created-sharded, delete by-status\)"):
        dynamodb.update_table(TableName=TABLE, AttributeDefinitions=attributes, GlobalSecondaryIndexUpdates=[
            {"Create": new[0]}, {"Delete": {"IndexName": "by-status"}}])
    dynamodb.update_table(TableName=TABLE, AttributeDefinitions=attributes,
                          GlobalSecondaryIndexUpdates=[{"Create": new[0]}])
    assert "by-created-sharded" in table_index_names(dynamodb)


def test_steps_add_first_drop_last_and_change_nothing_but_the_table_indexes():
    deployed, target = legacy_template(), json.loads(aws.resources_body("dev"))
    steps = indexes.index_steps(deployed, target)
    assert [(s.action, s.index) for s in steps] == [
        ("create", "by-created-sharded"), ("create", "by-owner"), ("create", "by-status-sharded"),
        ("create", "by-webhook-sharded"), ("delete", "by-status")]
    previous = deployed
    for step in steps:
        assert rules.stack_index_problems(STACK, previous, step.template) == []
        changed = {name for name in step.template["Resources"]
                   if step.template["Resources"][name] != deployed["Resources"][name]}
        assert changed == {"StatusTable"} and step.template["Parameters"] == deployed["Parameters"]
        properties = step.template["Resources"]["StatusTable"]["Properties"]
        keys = {k["AttributeName"] for i in properties["GlobalSecondaryIndexes"] for k in i["KeySchema"]} | {"image_id"}
        assert {a["AttributeName"] for a in properties["AttributeDefinitions"]} == keys
        previous = step.template
    assert indexes.table_indexes(previous) == indexes.table_indexes(target)
    assert indexes.index_steps(target, target) == []
    assert indexes.index_steps(steps[-2].template, target) == []  # one change: the update itself


def test_path_one_deploys_an_existing_legacy_stack_one_index_per_update(clients, capsys, monkeypatch):
    cfn, dynamodb, upload = clients
    deploy_legacy_stack(cfn, upload)
    dynamodb.put_item(TableName=TABLE, Item={"image_id": {"S": "a"}, "status": {"S": "COMPLETE"},
                                              "kind": {"S": "image"}, "created_at": {"S": "2026-01-01"}})
    parameters = aws.stack_parameters("dev")
    # Without the steps, path 1's update is the naive one, and fails as it would on AWS.
    with monkeypatch.context() as without_steps, pytest.raises(rules.RuleBrokenError, match="more than one GSI"):
        without_steps.setattr(aws, "step_indexes", lambda *args: None)
        aws.deploy_resources(cfn, STACK, parameters, aws.resources_body("dev"), upload, dynamodb)

    outputs = aws.deploy_resources(cfn, STACK, parameters, aws.resources_body("dev"), upload, dynamodb)
    said = capsys.readouterr().out
    assert "its indexes change in 5 updates before the rest of the deploy" in said
    assert "1/5: add index by-created-sharded of StatusTable (imgpipe-dev-status)" in said
    assert "5/5: drop index by-status of StatusTable" in said
    assert outputs["StatusTable"] == TABLE
    assert table_index_names(dynamodb) == SHARDED | LEGACY
    assert cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert dynamodb.query(TableName=TABLE, IndexName="by-created", KeyConditionExpression="kind = :k",
                          ExpressionAttributeValues={":k": {"S": "image"}})["Count"] == 1
    # Again: nothing to step, nothing said.
    aws.deploy_resources(cfn, STACK, parameters, aws.resources_body("dev"), upload, dynamodb)
    assert "updates before the rest" not in capsys.readouterr().out

    # The migration's last step: legacy_indexes false drops the two unsharded ones, one per update.
    settings = {**build.stage_settings("dev"), "legacy_indexes": False}
    monkeypatch.setattr(aws, "stage_settings", lambda stage: settings)
    aws.deploy_resources(cfn, STACK, parameters, aws.resources_body("dev"), upload, dynamodb)
    said = capsys.readouterr().out
    assert "1/2: drop index by-created of StatusTable" in said and "2/2: drop index by-webhook" in said
    assert table_index_names(dynamodb) == SHARDED


class Described:
    """DescribeTable's answers in turn (a table whose index is building, then built)."""

    def __init__(self, *statuses: str) -> None:
        self.statuses = list(statuses)

    def describe_table(self, TableName: str) -> dict:  # noqa: N803 (boto3's name)
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return {"Table": {"TableStatus": "ACTIVE", "GlobalSecondaryIndexes": [
            {"IndexName": "by-owner", "IndexStatus": status}, {"IndexName": "by-created", "IndexStatus": "ACTIVE"}]}}


def test_each_step_waits_until_every_index_is_active():
    slept: list[float] = []
    index_steps.wait_for_indexes(Described("CREATING", "CREATING", "ACTIVE"), TABLE, 60, slept.append)
    assert slept == [index_steps.INDEX_POLL_SECONDS] * 2
    with pytest.raises(SystemExit, match="indexes by-owner are not ACTIVE after 0 s"):
        index_steps.wait_for_indexes(Described("CREATING"), TABLE, 0, slept.append)
    assert index_steps.live_index_problem(Described("ACTIVE"), TABLE, {"by-owner", "by-created"}) is None
    problem = index_steps.live_index_problem(Described("ACTIVE"), TABLE, {"by-owner"})
    assert problem.startswith(f"Table {TABLE} has the indexes by-created, by-owner, but its stack's template says "
                              "by-owner: an index was added or dropped outside the stack")


def test_path_two_command_writes_the_steps_and_says_how_to_deploy_them(clients, tmp_path, capsys):
    cfn, dynamodb, upload = clients
    deploy_legacy_stack(cfn, upload)
    target = tmp_path / "sam.json"
    target.write_text(aws.resources_body("dev"))
    index_steps.command(STACK, target, tmp_path / "steps", apply=False, bucket="my-artifacts")
    said = capsys.readouterr().out
    assert said.count("aws cloudformation deploy --stack-name imgpipe-dev-resources --template-file ") == 5
    assert "--s3-bucket my-artifacts --capabilities CAPABILITY_IAM CAPABILITY_NAMED_IAM CAPABILITY_AUTO_EXPAND" in said
    written = sorted((tmp_path / "steps").glob("step-*.json"))
    assert [p.name for p in written] == [f"step-{n}.json" for n in range(1, 6)]
    assert table_index_names(dynamodb) == {"by-created", "by-webhook", "by-status"}  # written, not deployed
    index_steps.command(STACK, target, tmp_path / "steps", apply=True, bucket=upload[1])
    assert table_index_names(dynamodb) == SHARDED | LEGACY
    assert "now deploy" in capsys.readouterr().out


def test_legacy_indexes_are_kept_by_default_and_dropped_in_every_path_when_off(monkeypatch):
    template = json.loads(build.RESOURCES.read_text())
    for stage in ("dev", "prod", "cfn", "tf"):
        assert build.stage_settings(stage)["legacy_indexes"] is True
    assert indexes.stage_template(template, build.stage_settings("dev")) == template
    dropped = indexes.stage_template(template, {"legacy_indexes": False})
    table = dropped["Resources"]["StatusTable"]["Properties"]
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == SHARDED
    assert not {"kind", "webhook_due"} & {a["AttributeName"] for a in table["AttributeDefinitions"]}

    settings = {**build.stage_settings("cfn"), "legacy_indexes": False}
    monkeypatch.setattr(build, "stage_settings", lambda stage: settings)
    monkeypatch.setattr(aws, "stage_settings", lambda stage: settings)
    for path, merged in (("1", json.loads(aws.resources_body("cfn"))), ("2", build.merge_template("cfn"))):
        names = {i["IndexName"] for i in merged["Resources"]["StatusTable"]["Properties"]["GlobalSecondaryIndexes"]}
        assert names == SHARDED, path
    variables = (build.TERRAFORM_DIR / "variables.tf").read_text()  # path 3: infra/terraform/tests/indexes.tftest.hcl
    assert 'variable "legacy_indexes" {' in variables and "default     = true" in variables.split(
        'variable "legacy_indexes"')[1].split("}")[0]


def test_dropping_the_legacy_indexes_of_a_stage_that_reads_them_is_refused(monkeypatch):
    settings = {**build.stage_settings("cfn"), "legacy_indexes": False}
    config = build.load_config()
    config["stages"]["cfn"]["environment_variables"]["STATUS_READS"] = "legacy"
    monkeypatch.setattr(build, "stage_settings", lambda stage: settings)
    monkeypatch.setattr(build, "load_config", lambda: config)
    with pytest.raises(SystemExit, match=r"Stage cfn reads the unsharded indexes \(STATUS_READS=legacy"):
        build.merge_template("cfn")
    problem = indexes.legacy_reads_problem("dev", settings, {"STATUS_READS": "legacy"})
    assert "Finish the migration first" in problem
    assert indexes.legacy_reads_problem("dev", settings, {"STATUS_READS": "sharded"}) is None
    assert indexes.legacy_reads_problem("dev", {"legacy_indexes": True}, {"STATUS_READS": "legacy"}) is None
    monkeypatch.setattr(aws, "stage_settings", lambda stage: settings)
    monkeypatch.setattr(aws, "load_config", lambda: {"stages": {"dev": config["stages"]["cfn"]}})
    with pytest.raises(SystemExit, match="Stage dev reads the unsharded indexes"):
        aws.deploy("dev")


def test_the_deployed_template_is_read_as_json_or_as_path_twos_yaml():
    class Templates:
        def __init__(self, body: object) -> None:
            self.body = body

        def get_template(self, StackName: str, TemplateStage: str) -> dict:  # noqa: N803 (boto3's names)
            assert TemplateStage == "Original"  # before the SAM transform: what path 2 deployed
            return {"TemplateBody": self.body}

    template = legacy_template()
    import yaml

    for body in (template, json.dumps(template), yaml.safe_dump(template)):
        assert index_steps.deployed_template(Templates(body), STACK) == template
