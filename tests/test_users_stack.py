"""Path 1's user pool (deploy/users.py): it lints, deploys (moto) and lands in the stage's environment."""

import json

import pytest

from deploy import aws, users
from tests.test_deploy import cfn_lint


def test_the_pool_stack_lints_keeps_its_users_and_signs_in_with_pkce(tmp_path):
    template = users.users_stack_template()
    (tmp_path / "users.json").write_text(json.dumps(template))
    cfn_lint(tmp_path / "users.json")
    resources = template["Resources"]
    assert resources["UserPool"]["DeletionPolicy"] == "Retain"
    client = resources["PageClient"]["Properties"]
    assert client["GenerateSecret"] is False and client["AllowedOAuthFlows"] == ["code"]
    assert "implicit" not in json.dumps(client)


def test_page_urls_are_the_api_and_each_allowed_origin(tmp_path):
    deployed = tmp_path / "dev.json"
    assert users.page_urls("*", deployed) == "https://localhost/"
    deployed.write_text(json.dumps({"resources": [{"rest_api_url": "https://a.execute-api.eu-west-1.amazonaws.com/api/"}]}))
    assert users.page_urls("https://www.example.com", deployed) == \
        "https://a.execute-api.eu-west-1.amazonaws.com/api/,https://www.example.com/"


def test_a_cognito_stage_gets_its_pool_client_and_hosted_ui(tmp_path, monkeypatch):
    config = tmp_path / "config.json"
    stages = {"dev": {"environment_variables": {"AUTH": "cognito", "ALLOWED_ORIGINS": "https://app.example.com"}},
              "old": {"environment_variables": {"AUTH": "api_key"}}}
    config.write_text(json.dumps({"stages": stages}))
    monkeypatch.setattr(aws, "CONFIG", config)
    seen = {}

    def deploy_resources(cfn, stack, parameters, body):
        seen.update(stack=stack, parameters={p["ParameterKey"]: p["ParameterValue"] for p in parameters})
        return {"UserPoolArn": "arn:aws:cognito-idp:eu-west-1:000000000000:userpool/eu-west-1_x",
                "PageClientId": "client", "SignInUrl": "https://imgpipe-dev-0.auth.eu-west-1.amazoncognito.com"}

    monkeypatch.setattr(aws, "deploy_resources", deploy_resources)
    assert aws.deploy_user_pool(None, "old") is None and not seen
    aws.deploy_user_pool(None, "dev")
    assert seen["stack"] == "imgpipe-dev-users" and seen["parameters"]["PageUrls"] == "https://app.example.com/"
    env = json.loads(config.read_text())["stages"]["dev"]["environment_variables"]
    assert env["COGNITO_USER_POOL_ARN"].endswith("userpool/eu-west-1_x") and env["SIGN_IN_CLIENT_ID"] == "client"
    assert env["SIGN_IN_URL"].startswith("https://imgpipe-dev-")


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_deployed_stages_default_to_cognito(stage):
    env = json.loads((aws.CONFIG).read_text())["stages"][stage]["environment_variables"]
    assert env["AUTH"] == "cognito" and env["COGNITO_USER_POOL_ARN"] == "set-by-make-deploy"
