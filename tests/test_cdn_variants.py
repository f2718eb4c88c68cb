"""/v/* through CloudFront in every deploy path: the viewer-request function that turns Accept
into a class (run with node), the behaviour and its cache policy in each template, and the
route's answers that CloudFront caches (docs/VARIANTS.md, "auto and the CDN")."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from chalicelib import variants as v
from chalicelib.ondemand import REDIRECT_MAX_AGE
from deploy import build
from tests.test_deploy import hcl_blocks

FUNCTION = build.TERRAFORM_DIR / "accept-class.js"
RESOURCES = json.loads(build.RESOURCES.read_text())
API_STAGE = build.load_config()["stages"]["cfn"]["api_gateway_stage"]
ACCEPTS = [
    "",
    "*/*",
    "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",  # Chrome
    "image/avif,image/webp,*/*",  # Firefox
    "image/webp,*/*",  # Safari 14-15
    "image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5",  # old Safari
    "IMAGE/WEBP",
    "image/avif;q=0,image/webp",
    "image/avif;q=0.0, image/webp;q=0",
    "image/avif ; q=0.5",
    "image/webp;q=abc",
    "text/html,application/xhtml+xml",
]


def run_function(requests: list[dict]) -> list[dict]:
    """The CloudFront Function's handler on each request, in node."""
    script = ("const fs = require('fs'); eval(fs.readFileSync(process.argv[1], 'utf8'));"
              "const requests = JSON.parse(fs.readFileSync(0, 'utf8'));"
              "console.log(JSON.stringify(requests.map(r => handler({request: r}))));")
    done = subprocess.run(["node", "-e", script, str(FUNCTION)], input=json.dumps(requests),
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed: the function's JavaScript is not run")
def test_the_function_writes_the_class_the_api_reads_back():
    requests = [{"uri": f"/v/{'A' * 32}/{'a' * 32}/w_640", "headers": {"accept": {"value": a}} if a else {}}
                for a in ACCEPTS]
    for accept, answer in zip(ACCEPTS, run_function(requests)):
        written = answer["headers"]["accept"]["value"]
        assert written in {*v.CLASS_ACCEPT.values(), v.AVIF_ONLY_ACCEPT}, accept
        # The class CloudFront keys on is the class the API gives the raw header, and reads back.
        assert v.format_class(written) == v.format_class(accept), accept
        assert v.format_class(written, avif_supported=False) == v.format_class(accept, avif_supported=False)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed: the function's JavaScript is not run")
def test_an_explicit_format_has_one_cache_entry_whatever_the_accept():
    uris = ["w_640,f_webp", "f_png", "w_640,h_360,fit_cover,f_jpeg,q_70"]
    requests = [{"uri": f"/v/s/i/{u}", "headers": {"accept": {"value": a}}} for u in uris for a in ACCEPTS[1:4]]
    assert {r["headers"]["accept"]["value"] for r in run_function(requests)} == {"*/*"}
    presets = run_function([{"uri": "/v/s/i/card", "headers": {"accept": {"value": "image/webp"}}}])
    assert presets[0]["headers"]["accept"]["value"] == "image/webp"  # a preset may be auto


def test_each_class_value_reads_back_as_its_class():
    for kind, accept in v.CLASS_ACCEPT.items():
        assert v.format_class(accept) == kind
    assert v.format_class(v.CLASS_ACCEPT["avif"], avif_supported=False) == "webp"


def check_behaviour(behaviour: dict, cache: dict) -> None:
    """CloudFormation's /v/* behaviour (paths 1 and 2)."""
    assert behaviour["PathPattern"] == "/v/*" and behaviour["TargetOriginId"] == "api"
    assert behaviour["AllowedMethods"] == ["GET", "HEAD"]
    assert "OriginRequestPolicyId" not in behaviour  # only the key's values reach the API; Host is its own
    [association] = behaviour["FunctionAssociations"]
    assert association == {"EventType": "viewer-request", "FunctionARN": {"Fn::GetAtt": ["CdnAcceptClass", "FunctionARN"]}}
    key = cache["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["HeadersConfig"] == {"HeaderBehavior": "whitelist", "Headers": ["Accept"]}
    assert key["CookiesConfig"] == {"CookieBehavior": "none"}
    assert key["QueryStringsConfig"] == {"QueryStringBehavior": "none"}  # the URL has none (variants.py)
    # What the API's Cache-Control says is kept; nothing is kept that the API did not allow.
    assert cache["MinTTL"] == 0 and cache["DefaultTTL"] == 0 and cache["MaxTTL"] >= REDIRECT_MAX_AGE


def test_path_one_serves_v_from_the_api_once_its_domain_is_known():
    resources, conditions = RESOURCES["Resources"], RESOURCES["Conditions"]
    assert RESOURCES["Parameters"]["ApiDomain"]["Default"] == ""  # before chalice deploy: no /v/*
    assert conditions["CdnVariants"]["Fn::And"][0] == {"Condition": "Cdn"}
    config = resources["CdnDistribution"]["Properties"]["DistributionConfig"]
    [origin] = [o["Fn::If"] for o in config["Origins"] if "Fn::If" in o]
    assert origin[0] == "CdnVariants" and origin[2] == {"Ref": "AWS::NoValue"}
    assert origin[1]["DomainName"] == {"Ref": "ApiDomain"} and origin[1]["OriginPath"] == f"/{API_STAGE}"
    assert origin[1]["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    [behaviour] = config["CacheBehaviors"]
    assert behaviour["Fn::If"][0] == "CdnVariants"
    check_behaviour(behaviour["Fn::If"][1], resources["CdnVariantCachePolicy"]["Properties"]["CachePolicyConfig"])
    function = resources["CdnAcceptClass"]["Properties"]
    assert function["FunctionCode"] == FUNCTION.read_text()  # one source for every path
    assert function["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0" and function["AutoPublish"] is True
    # The redirect's target, the stored variant, is readable through the CDN.
    statements = resources["OutputBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    [grant] = [s["Fn::If"][1] for s in statements if "Fn::If" in s]
    assert {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::${{OutputBucket}}/{v.VARIANTS_PREFIX}*"} in grant["Resource"]


def test_make_deploy_sets_the_api_domain_without_dropping_it_on_a_redeploy(monkeypatch, tmp_path):
    from deploy import aws

    assert aws.api_domain("a1b2c3", "eu-west-1") == "a1b2c3.execute-api.eu-west-1.amazonaws.com"
    parameters = aws.with_api_domain(aws.stack_parameters("dev"), "x.execute-api.eu-west-1.amazonaws.com")
    assert [p["ParameterValue"] for p in parameters if p["ParameterKey"] == "ApiDomain"] == [
        "x.execute-api.eu-west-1.amazonaws.com"]
    monkeypatch.setattr(aws, "ROOT", tmp_path)
    assert aws.previous_api_domain("dev", "eu-west-1") == ""  # a first deploy
    (tmp_path / ".chalice" / "deployed").mkdir(parents=True)
    (tmp_path / ".chalice" / "deployed" / "dev.json").write_text(json.dumps(
        {"resources": [{"resource_type": "rest_api", "rest_api_id": "a1b2c3"}]}))
    assert aws.previous_api_domain("dev", "eu-west-1") == "a1b2c3.execute-api.eu-west-1.amazonaws.com"


@pytest.fixture(scope="module")
def cfn_template(tmp_path_factory) -> dict:
    return json.loads(build.package_cloudformation(out=tmp_path_factory.mktemp("cfn")).read_text())


def test_path_two_serves_v_from_its_own_api_without_a_cycle(cfn_template):
    resources = cfn_template["Resources"]
    assert "CdnVariants" not in cfn_template["Conditions"] and "ApiDomain" not in cfn_template["Parameters"]
    assert resources["CdnVariantCachePolicy"]["Condition"] == resources["CdnAcceptClass"]["Condition"] == "Cdn"
    config = resources["CdnDistribution"]["Properties"]["DistributionConfig"]
    [origin] = [o for o in config["Origins"] if o["Id"] == "api"]
    assert origin["DomainName"] == {"Fn::Sub": "${RestAPI}.execute-api.${AWS::Region}.amazonaws.com"}
    [behaviour] = config["CacheBehaviors"]
    check_behaviour(behaviour, resources["CdnVariantCachePolicy"]["Properties"]["CachePolicyConfig"])
    # API → function → (CDN_DOMAIN) distribution → API would be a cycle: the API names the function's ARN.
    body = json.dumps(resources["RestAPI"]["Properties"]["DefinitionBody"])
    assert "APIHandler.Arn" not in body and ":function:imgpipe-${Stage}/invocations" in body
    env = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert env["RENDER_FUNCTION"] == {"Fn::Sub": "imgpipe-${Stage}-render_variant"}
    render = resources["RenderVariant"]
    assert render["Properties"]["Handler"] == "app.render_variant" and render["DependsOn"] == ["RenderVariantLogGroup"]
    assert render["Properties"]["MemorySize"] > resources["APIHandler"]["Properties"]["MemorySize"]


@pytest.fixture(scope="module")
def terraform_dir(tmp_path_factory) -> Path:
    return build.package_terraform(out=tmp_path_factory.mktemp("tf") / "terraform")


def test_path_three_serves_v_from_its_api(terraform_dir):
    blocks = hcl_blocks(terraform_dir, "resource")
    cdn = blocks["aws_cloudfront_distribution.cdn"]
    [api] = [o for o in cdn["origin"] if o["origin_id"] == "api"]
    assert api["domain_name"].startswith("${aws_api_gateway_rest_api.rest_api.id}.execute-api.")
    assert api["origin_path"] == "/${aws_api_gateway_stage.rest_api.stage_name}"
    assert api["custom_origin_config"][0]["origin_protocol_policy"] == "https-only"
    [behaviour] = cdn["ordered_cache_behavior"]
    assert behaviour["path_pattern"] == "/v/*" and behaviour["target_origin_id"] == "api"
    assert "origin_request_policy_id" not in behaviour
    assert behaviour["function_association"][0]["event_type"] == "viewer-request"
    function = blocks["aws_cloudfront_function.accept_class"]
    assert function["runtime"] == "cloudfront-js-2.0" and (terraform_dir / "accept-class.js").exists()
    key = blocks["aws_cloudfront_cache_policy.variants"]["parameters_in_cache_key_and_forwarded_to_origin"][0]
    assert key["headers_config"][0]["headers"][0]["items"] == ["Accept"]
    assert key["query_strings_config"][0]["query_string_behavior"] == "none"
    chalice_tf = json.loads((terraform_dir / "chalice.tf.json").read_text())
    assert "aws_lambda_function.api_handler.invoke_arn" not in chalice_tf["locals"]["chalice_api_swagger"]
    functions = chalice_tf["resource"]["aws_lambda_function"]
    assert functions["api_handler"]["environment"]["variables"]["RENDER_FUNCTION"] == (
        "${aws_lambda_function.render_variant.function_name}")
    assert functions["render_variant"]["memory_size"] > functions["api_handler"]["memory_size"]
    assert "variants/*" in blocks["aws_s3_bucket_policy.tls_only"]["policy"]
