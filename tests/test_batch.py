"""Backfills: the Batch Operations invocation shapes, and the job that feeds them."""

import time
from urllib.parse import quote_plus

import pytest
from botocore.stub import ANY, Stubber

import app as app_module
from chalicelib.batch import handle_batch
from chalicelib.errors import ImageBusyError
from chalicelib.uploads import image_id_for_key
from imgpipe.backfill import CSV_FORMAT, create_job, inventory_manifest, write_manifest
from tests import images
from tests.conftest import TEST_ENV, invoke_handler

INPUT, OUTPUT = TEST_ENV["INPUT_BUCKET"], TEST_ENV["OUTPUT_BUCKET"]


def batch_event(version: str, *keys: str, bucket: str = INPUT) -> dict:
    """An invocation as S3 Batch Operations sends it (keys URL-encoded, as in the manifest)."""
    def task(n, key):
        where = {"s3Bucket": bucket} if version == "2.0" else {"s3BucketArn": f"arn:aws:s3:::{bucket}"}
        return {"taskId": f"task-{n}", "s3Key": quote_plus(key, safe="/"), "s3VersionId": None, **where}
    event = {"invocationSchemaVersion": version, "invocationId": "inv-1", "job": {"id": "job-1"},
             "tasks": [task(n, key) for n, key in enumerate(keys)]}
    if version == "2.0":
        event["job"]["userArguments"] = {}
    return event


def processed(aws, client, key, body):
    aws.put(key, body)
    for event in aws.received_events():
        invoke_handler(client, event)


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_a_backfill_renders_finished_images_again_with_the_new_renditions(aws, client, monkeypatch, version):
    processed(aws, client, "holiday photos/beach+1.jpg", images.jpeg(800, 600))
    monkeypatch.setenv("RENDITIONS", "tiny:64x64")
    app_module.get_settings.cache_clear()
    app_module.get_pipeline.cache_clear()
    response = handle_batch(app_module.get_pipeline(), batch_event(version, "holiday photos/beach+1.jpg"), time.time)
    assert response == {"invocationSchemaVersion": version, "treatMissingKeysAs": "PermanentFailure",
                        "invocationId": "inv-1",
                        "results": [{"taskId": "task-0", "resultCode": "Succeeded", "resultString": "COMPLETE"}]}
    record = app_module.get_status_store().get(image_id_for_key("holiday photos/beach+1.jpg"))
    assert {r["name"] for r in record["renditions"]} == {"default", "tiny"}


def test_bad_and_missing_objects_are_permanent_failures(aws, client):
    aws.put("broken.jpg", images.jpeg()[:300])
    aws.put("elsewhere.jpg", images.jpeg(), bucket=OUTPUT)
    event = batch_event("2.0", "broken.jpg", "never-uploaded.jpg")
    event["tasks"].append(batch_event("2.0", "elsewhere.jpg", bucket=OUTPUT)["tasks"][0] | {"taskId": "task-2"})
    results = handle_batch(app_module.get_pipeline(), event, time.time)["results"]
    assert [r["resultCode"] for r in results] == ["PermanentFailure"] * 3
    assert results[0]["resultString"].startswith("corrupt_image: ")
    assert results[1]["resultString"] == "The object no longer exists."
    assert "input bucket" in results[2]["resultString"]


def test_busy_images_and_aws_faults_are_temporary_failures(aws, client, monkeypatch):
    aws.put("busy.jpg", images.jpeg())
    pipeline = app_module.get_pipeline()
    monkeypatch.setattr(pipeline, "process_object", lambda key: (_ for _ in ()).throw(ImageBusyError(key)))
    assert handle_batch(pipeline, batch_event("1.0", "busy.jpg"), time.time)["results"][0]["resultCode"] == \
        "TemporaryFailure"
    monkeypatch.setattr(pipeline, "process_object", lambda key: (_ for _ in ()).throw(ConnectionError("reset")))
    result = handle_batch(pipeline, batch_event("1.0", "busy.jpg"), time.time)["results"][0]
    assert result["resultCode"] == "TemporaryFailure" and "reset" not in result["resultString"]


def test_an_unknown_schema_is_refused(aws):
    with pytest.raises(ValueError):
        handle_batch(app_module.get_pipeline(), {"invocationSchemaVersion": "9.9", "tasks": []}, time.time)


def test_the_manifest_lists_every_input_object_url_encoded(aws):
    for key in ("a.jpg", "uploads/x/with space.png", "uploads/x/plus+sign.jpg"):
        aws.put(key, b"x")
    manifest = write_manifest(aws.s3, INPUT, "uploads/", OUTPUT)
    body, _ = aws.output(manifest.key)
    assert body.decode().splitlines() == [f"{INPUT},uploads/x/plus%2Bsign.jpg", f"{INPUT},uploads/x/with+space.png"]
    assert manifest.count == 2 and manifest.key.startswith("batch/manifests/")
    assert manifest.spec()["Spec"] == {"Format": CSV_FORMAT, "Fields": ["Bucket", "Key"]}


def test_an_inventory_report_is_used_as_it_is(aws):
    aws.put("inventory/input/2026-11-30T00-00Z/manifest.json", b"{}", bucket=OUTPUT)
    manifest = inventory_manifest(aws.s3, f"s3://{OUTPUT}/inventory/input/2026-11-30T00-00Z/manifest.json")
    assert manifest.format == "S3InventoryReport_CSV_20161130" and manifest.etag
    with pytest.raises(ValueError):
        inventory_manifest(aws.s3, "https://example.com/manifest.json")


def test_the_job_invokes_the_backfill_function_with_a_report_of_failures(aws):
    """moto has no S3 Control jobs: botocore's Stubber checks the request against the API model."""
    import boto3

    s3control = boto3.client("s3control", region_name="us-east-1")
    manifest = write_manifest(aws.s3, INPUT, "", OUTPUT)
    function = "arn:aws:lambda:us-east-1:111122223333:function:imgpipe-prod-backfill_image"
    role = "arn:aws:iam::111122223333:role/imgpipe-prod-batch"
    with Stubber(s3control) as stub:
        stub.add_response("create_job", {"JobId": "job-42"}, {
            "AccountId": "111122223333", "ConfirmationRequired": False,
            "Operation": {"LambdaInvoke": {"FunctionArn": function, "InvocationSchemaVersion": "2.0"}},
            "Manifest": manifest.spec(), "Report": {
                "Bucket": f"arn:aws:s3:::{OUTPUT}", "Format": "Report_CSV_20180820", "Enabled": True,
                "Prefix": "batch/reports", "ReportScope": "FailedTasksOnly"},
            "ClientRequestToken": ANY, "Priority": 10, "RoleArn": role, "Description": "backfill"})
        assert create_job(s3control, "111122223333", function, role, manifest, OUTPUT, "backfill") == "job-42"
        stub.assert_no_pending_responses()
