"""DELETE /images/{id} invalidates the image's renditions and variants on the stage's CloudFront distribution."""

import os

import boto3

import app as app_module
from chalicelib.cdn import invalidation_paths
from tests import images
from tests.conftest import invoke_handler
from tests.test_api import new_upload

DISTRIBUTION = {
    "CallerReference": "imgpipe-test", "Comment": "", "Enabled": True,
    "Origins": {"Quantity": 1, "Items": [{"Id": "output", "DomainName": "imgpipe-test-output.s3.amazonaws.com",
                                          "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
    "DefaultCacheBehavior": {"TargetOriginId": "output", "ViewerProtocolPolicy": "https-only",
                             "MinTTL": 0, "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}}},
}


def test_a_delete_invalidates_every_rendition_of_the_image(aws, client, monkeypatch):
    cloudfront = boto3.client("cloudfront", region_name="us-east-1")
    distribution = cloudfront.create_distribution(DistributionConfig=DISTRIBUTION)["Distribution"]["Id"]
    monkeypatch.setenv("CDN_DISTRIBUTION_ID", distribution)
    app_module.get_settings.cache_clear()
    image_id = new_upload(client, "holiday photo.jpg")["image_id"]
    aws.put(f"uploads/{image_id}/holiday photo.jpg", images.jpeg(640, 480))
    for event in aws.received_events():
        invoke_handler(client, event)
    renditions = [r["key"] for r in client.http.get(f"/images/{image_id}").json_body["renditions"]]
    variant = f"variants/{image_id}/v1/w_640,f_webp.webp"  # an on-demand variant, as ondemand.py stores it
    boto3.client("s3").put_object(Bucket=os.environ["OUTPUT_BUCKET"], Key=variant, Body=b"webp")
    assert client.http.delete(f"/images/{image_id}").status_code == 204
    listed = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"]["Items"]
    assert len(listed) == 1
    done = cloudfront.get_invalidation(DistributionId=distribution, Id=listed[0]["Id"])["Invalidation"]
    # Exact paths, no wildcard: CloudFront runs at most 15 wildcard paths at once per distribution.
    assert sorted(done["InvalidationBatch"]["Paths"]["Items"]) == invalidation_paths([*renditions, variant])
    assert all(" " not in path and path.startswith("/") for path in invalidation_paths(renditions))


def test_without_a_distribution_or_when_cloudfront_fails_the_delete_still_happens(aws, client, monkeypatch):
    image_id = new_upload(client)["image_id"]
    assert client.http.delete(f"/images/{image_id}").status_code == 204  # no CDN_DISTRIBUTION_ID
    monkeypatch.setenv("CDN_DISTRIBUTION_ID", "ENOSUCHDIST")
    app_module.get_settings.cache_clear()
    image_id = new_upload(client)["image_id"]
    aws.put(f"uploads/{image_id}/cat.jpg", images.jpeg(64, 48))
    for event in aws.received_events():
        invoke_handler(client, event)
    assert client.http.delete(f"/images/{image_id}").status_code == 204
    assert client.http.get(f"/images/{image_id}").status_code == 404


def test_path_one_gives_the_api_its_distribution_and_a_grant_for_it_alone(tmp_path, monkeypatch):
    import json
    import shutil

    from deploy import aws, build, policies

    for name in ("config.json", *(f"policy-{short}.json" for short in policies.FUNCTIONS.values())):
        shutil.copy(policies.CHALICE_DIR / name, tmp_path / name)
    monkeypatch.setattr(policies, "CHALICE_DIR", tmp_path)
    monkeypatch.setattr(aws, "POLICIES_DIR", tmp_path)
    monkeypatch.setattr(aws, "CONFIG", tmp_path / "config.json")
    monkeypatch.setattr(aws, "stage_settings", lambda stage: {**build.stage_settings("prod"), "subnet_ids": []})
    outputs = {"InputBucket": "in", "OutputBucket": "out", "StatusTable": "status", "DeadLetterQueueArn": "arn:q",
               "CdnDomain": "d1.cloudfront.net", "CdnDistributionId": "E2ABC", "EventBusName": "b",
               "WebhookSecretArn": "arn:secret", "VariantSecretArn": "arn:variants"}
    aws.configure_stage("prod", outputs, "000000000000", "eu-west-1", "aws")
    functions = json.loads((tmp_path / "config.json").read_text())["stages"]["prod"]["lambda_functions"]
    assert functions["api_handler"]["environment_variables"]["CDN_DISTRIBUTION_ID"] == "E2ABC"
    for short in policies.FUNCTIONS.values():
        statements = json.loads((tmp_path / f"policy-prod-{short}.json").read_text())["Statement"]
        grants = [s for s in statements if "cloudfront:CreateInvalidation" in json.dumps(s)]
        assert grants == ([{"Sid": "InvalidateDeletedImages", "Effect": "Allow",
                            "Action": "cloudfront:CreateInvalidation",
                            "Resource": "arn:aws:cloudfront::000000000000:distribution/E2ABC"}]
                          if short == "api" else []), short


def test_browsers_of_the_stage_origins_may_fetch_renditions_from_the_cdn():
    import json
    import re

    from deploy import build

    policy = json.loads(build.RESOURCES.read_text())["Resources"]["CdnResponseHeadersPolicy"]
    cors = policy["Properties"]["ResponseHeadersPolicyConfig"]["CorsConfig"]
    assert cors["AccessControlAllowOrigins"]["Items"] == {"Ref": "AllowedOrigins"}
    assert cors["AccessControlAllowMethods"]["Items"] == ["GET", "HEAD"] and not cors["AccessControlAllowCredentials"]
    delivery = (build.TERRAFORM_DIR / "delivery.tf").read_text()
    assert re.search(r"cors_config \{\s+access_control_allow_origins \{\s+items = var.allowed_origins", delivery)
