"""The HTTP API through chalice.test.Client, and a real presigned POST against moto server."""

import base64
import json
import time
from datetime import datetime, timezone

import boto3
import pytest
import requests

import app as app_module
from chalicelib.status import create_table
from imgpipe.stackprocess import free_port
from tests import images
from tests.conftest import TEST_ENV, invoke_handler, reset_app_clients

JSON = {"Content-Type": "application/json"}


def post_upload(client, body, raw=None):
    return client.http.post("/uploads", headers=JSON, body=raw if raw is not None else json.dumps(body))


def new_upload(client, filename="cat.jpg", content_type="image/jpeg", size=1234):
    body = {"filename": filename, "content_type": content_type, **({"size": size} if size else {})}
    response = post_upload(client, body)
    assert response.status_code == 201, response.body
    return response.json_body


def error_of(response):
    body = response.json_body
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert "Traceback" not in body["error"]["message"]
    return body["error"]["code"]


def test_create_upload_returns_a_pinned_presigned_post(client):
    started = time.time()
    body = new_upload(client, "My Cat (1).jpg")
    image_id = body["image_id"]
    assert len(image_id) == 32
    fields = body["upload"]["fields"]
    key = f"uploads/{image_id}/My Cat (1).jpg"
    assert fields["key"] == key and fields["Content-Type"] == "image/jpeg"
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256" and "us-east-1" in fields["x-amz-credential"]
    assert TEST_ENV["INPUT_BUCKET"] in body["upload"]["url"]
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    assert {"key": key} in conditions
    assert {"Content-Type": "image/jpeg"} in conditions
    assert ["content-length-range", 1, 1234] in conditions  # the declared size, not MAX_UPLOAD_BYTES
    assert {"bucket": TEST_ENV["INPUT_BUCKET"]} in conditions
    expiry = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs(expiry.timestamp() - (started + 900)) < 5
    assert body["status_url"].endswith(f"/images/{image_id}")

    record = client.http.get(f"/images/{image_id}").json_body
    assert record["status"] == "PENDING" and record["source"]["key"] == key


def test_upload_ttl_and_size_limit_come_from_configuration(client, monkeypatch):
    monkeypatch.setenv("UPLOAD_URL_TTL", "60")
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "5000")
    reset_app_clients()
    policy = json.loads(base64.b64decode(new_upload(client, size=None)["upload"]["fields"]["policy"]))
    assert ["content-length-range", 1, 5000] in policy["conditions"]  # no size declared: the limit
    expiry = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs(expiry.timestamp() - (time.time() + 60)) < 5


@pytest.mark.parametrize(
    "body,raw,status,code",
    [
        (None, "{not json", 400, "bad_request"),
        (None, "", 400, "bad_request"),
        (None, "[" * 5000 + "]" * 5000, 400, "bad_request"),  # RecursionError in json.loads
        ([1, 2], None, 400, "bad_request"),
        ({"content_type": "image/jpeg"}, None, 400, "bad_request"),
        ({"filename": "", "content_type": "image/jpeg"}, None, 400, "bad_request"),
        ({"filename": "../..", "content_type": "image/jpeg"}, None, 400, "bad_request"),
        ({"filename": 5, "content_type": "image/jpeg"}, None, 400, "bad_request"),
        ({"filename": "a.jpg", "content_type": "image/jpeg", "size": "big"}, None, 400, "bad_request"),
        ({"filename": "a.jpg", "content_type": "image/jpeg", "size": 52428801}, None, 413, "file_too_large"),
        ({"filename": "a.svg", "content_type": "image/svg+xml"}, None, 415, "unsupported_media_type"),
        ({"filename": "a.pdf", "content_type": "application/pdf"}, None, 415, "unsupported_media_type"),
    ],
)
def test_create_upload_rejects_bad_requests(client, body, raw, status, code):
    response = post_upload(client, body, raw)
    assert response.status_code == status
    assert error_of(response) == code


def test_non_json_request_content_type_is_refused_in_our_error_shape(client):
    response = client.http.post("/uploads", headers={"Content-Type": "text/plain"}, body="x")
    assert response.status_code == 415 and error_of(response) == "unsupported_media_type"


def test_get_image_errors(client):
    assert client.http.get("/images/" + "a" * 32).status_code == 404
    assert error_of(client.http.get("/images/" + "a" * 32)) == "not_found"
    for bad in ("nope", "A" * 32, "a" * 33, "%2e%2e%2f" + "a" * 30):
        response = client.http.get(f"/images/{bad}")
        assert response.status_code == 400 and error_of(response) == "bad_request"


def test_unknown_method_gets_our_error_shape(client):
    response = client.http.request("PUT", "/images/" + "a" * 32, headers=JSON, body="{}")
    assert response.status_code == 405 and error_of(response) == "method_not_allowed"


def test_unexpected_failures_are_json_without_a_trace(client, monkeypatch):
    def explode(*_args, **_kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(app_module.api, "get_image", explode)
    response = client.http.get("/images/" + "a" * 32)
    assert response.status_code == 500 and error_of(response) == "internal_error"
    assert b"secret internal detail" not in response.body


def process(aws, client, key, body):
    aws.put(key, body)
    for event in aws.received_events():
        invoke_handler(client, event)


def test_completed_record_has_download_urls(aws, client):
    image_id = new_upload(client, "dog.jpg")["image_id"]
    process(aws, client, f"uploads/{image_id}/dog.jpg", images.jpeg(1000, 500))
    record = client.http.get(f"/images/{image_id}").json_body
    assert record["status"] == "COMPLETE"
    assert record["source"]["width"] == 1000
    default = next(r for r in record["renditions"] if r["name"] == "default")
    assert (default["width"], default["height"]) == (800, 400)
    assert default["key"] == f"processed-uploads/{image_id}/dog.jpg"
    assert default["url"].startswith("https://") and "X-Amz-Signature" in default["url"]
    assert "response-content-type=image%2Fjpeg" in default["url"]


def test_list_filters_and_paginates(aws, client):
    ids = [new_upload(client, f"p{n}.jpg")["image_id"] for n in range(3)]
    process(aws, client, f"uploads/{ids[0]}/p0.jpg", images.jpeg())
    process(aws, client, "direct/straight-in.jpg", images.jpeg())

    everything = client.http.get("/images?limit=100").json_body
    assert {i["image_id"] for i in everything["items"]} >= set(ids)
    assert len(everything["items"]) == 4 and everything["next_cursor"] is None

    seen, cursor = [], None
    while True:
        page = client.http.get("/images?limit=1" + (f"&cursor={cursor}" if cursor else "")).json_body
        seen += [i["image_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(i["image_id"] for i in everything["items"])

    pending = client.http.get("/images?status=PENDING").json_body["items"]
    assert {i["image_id"] for i in pending} == {ids[1], ids[2]}
    complete = client.http.get("/images?status=COMPLETE").json_body["items"]
    assert len(complete) == 2 and all(i["renditions"][0]["url"] for i in complete)

    by_key = client.http.get("/images?key=direct/straight-in.jpg").json_body["items"]
    assert [i["source"]["key"] for i in by_key] == ["direct/straight-in.jpg"]
    assert client.http.get("/images?key=nothing.jpg").json_body["items"] == []


@pytest.mark.parametrize("query", [
    "status=DONE", "status=complete", "limit=0", "limit=101", "limit=ten", "cursor=%%%", "colour=red",
    # '²'.isdigit() is true and int() raises; int('٣') is 3: only ASCII digits are numbers here
    "limit=%C2%B2", "limit=%D9%A3", "limit=1_0", "limit=+5", "limit=%205",
    # forged cursors: the old base64 JSON missing the index keys, a key set of the wrong index, junk
    "cursor=" + base64.urlsafe_b64encode(b'{"image_id":"x"}').decode().rstrip("="),
    "cursor=" + base64.urlsafe_b64encode(b'{"image_id":"' + b"a" * 32 + b'","kind":"image"}').decode(),
    "cursor=2026-11-30T00:00:00.000Z~" + "A" * 32, "cursor=2026-11-30~" + "a" * 32,
])
def test_list_rejects_bad_parameters(client, query):
    response = client.http.get(f"/images?{query}")
    assert response.status_code == 400 and error_of(response) == "bad_request"


def test_delete_removes_source_renditions_and_record(aws, client):
    image_id = new_upload(client)["image_id"]
    key = f"uploads/{image_id}/cat.jpg"
    process(aws, client, key, images.jpeg())
    assert len(aws.output_keys()) == 4  # medium and large share stored renditions (README)
    response = client.http.delete(f"/images/{image_id}")
    assert response.status_code == 204
    assert aws.output_keys() == []
    assert "Contents" not in aws.s3.list_objects_v2(Bucket=TEST_ENV["INPUT_BUCKET"])
    assert client.http.get(f"/images/{image_id}").status_code == 404
    assert client.http.delete(f"/images/{image_id}").status_code == 404


def test_health_reports_each_part(aws, client):
    response = client.http.get("/health")
    assert response.status_code == 200
    assert response.json_body == {"status": "ok", "checks": {
        "input_bucket": "ok", "output_bucket": "ok", "status_table": "ok"}}
    aws.dynamodb.delete_table(TableName=TEST_ENV["STATUS_TABLE"])
    reset_app_clients()
    response = client.http.get("/health")
    assert response.status_code == 503 and response.json_body["checks"]["status_table"] != "ok"


def test_cors_allows_only_the_configured_origins(client, monkeypatch):
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://app.example,https://admin.example")
    reset_app_clients()
    allowed = client.http.get("/images?limit=1", headers={"Origin": "https://admin.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://admin.example"
    other = client.http.get("/images?limit=1", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = client.http.options("/uploads", headers={"Origin": "https://app.example",
                                                         "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]


def test_no_cors_headers_by_default(client):
    response = client.http.get("/images?limit=1", headers={"Origin": "https://app.example"})
    assert "Access-Control-Allow-Origin" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.fixture
def moto_server(monkeypatch):
    """A real HTTP S3/DynamoDB/SQS endpoint on loopback, for the browser-style upload."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    reset_app_clients()
    yield endpoint
    server.stop()
    reset_app_clients()


def test_browser_style_upload_through_the_presigned_post(moto_server):
    from chalice.test import Client

    s3 = boto3.client("s3", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    for bucket in (TEST_ENV["INPUT_BUCKET"], TEST_ENV["OUTPUT_BUCKET"]):
        s3.create_bucket(Bucket=bucket)
    create_table(boto3.client("dynamodb", region_name="us-east-1"), TEST_ENV["STATUS_TABLE"])
    queue_url = sqs.create_queue(QueueName="events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=TEST_ENV["INPUT_BUCKET"],
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})

    with Client(app_module.app, stage_name="test") as client:
        created = post_upload(client, {"filename": "sunset photo.jpg", "content_type": "image/jpeg"}).json_body
        upload = created["upload"]
        assert upload["url"].startswith(moto_server)
        posted = requests.post(upload["url"], data=upload["fields"],
                               files={"file": ("sunset photo.jpg", images.jpeg(1200, 900), "image/jpeg")},
                               timeout=30)
        assert posted.status_code in (200, 201, 204), posted.text
        head = s3.head_object(Bucket=TEST_ENV["INPUT_BUCKET"], Key=upload["fields"]["key"])
        assert head["ContentType"] == "image/jpeg"

        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in messages.get("Messages", []):
            invoke_handler(client, json.loads(message["Body"]))
        record = client.http.get(f"/images/{created['image_id']}").json_body
        assert record["status"] == "COMPLETE"
        for rendition in record["renditions"]:
            fetched = requests.get(rendition["url"], timeout=30)
            assert fetched.status_code == 200
            assert fetched.headers["Content-Type"] == f"image/{rendition['format']}"
            assert images.decode(fetched.content).size == (rendition["width"], rendition["height"])


def test_request_owner_comes_from_what_api_gateway_knows():
    from chalicelib.api import request_owner

    assert request_owner({"identity": {"sourceIp": "1.2.3.4"}}) is None
    assert request_owner({"identity": {"apiKeyId": "k-123"}}) == "k-123"
    assert request_owner({"authorizer": {"principalId": "user-7"}, "identity": {"apiKeyId": "k"}}) == "user-7"
    assert request_owner({"authorizer": {"claims": {"sub": "cognito-sub"}}}) == "cognito-sub"
    assert request_owner({"identity": {"userArn": "arn:aws:iam::000000000000:user/ann"}}).endswith("user/ann")


def test_a_known_caller_sees_and_deletes_only_its_own_images(client, monkeypatch):
    caller = {"owner": "key-A"}
    monkeypatch.setattr(app_module, "_owner", lambda: caller["owner"])
    mine = new_upload(client, "mine.jpg")["image_id"]
    caller["owner"] = "key-B"
    theirs = new_upload(client, "theirs.jpg")["image_id"]

    assert client.http.get(f"/images/{theirs}").json_body["owner"] == "key-B"
    assert client.http.get(f"/images/{mine}").status_code == 404
    assert client.http.delete(f"/images/{mine}").status_code == 404
    assert [i["image_id"] for i in client.http.get("/images").json_body["items"]] == [theirs]
    key = f"uploads/{mine}/mine.jpg"
    assert client.http.get(f"/images?key={key}").json_body["items"] == []

    caller["owner"] = "key-A"
    assert [i["image_id"] for i in client.http.get("/images").json_body["items"]] == [mine]
    assert client.http.delete(f"/images/{mine}").status_code == 204
    caller["owner"] = None  # an open API: every record is visible
    assert [i["image_id"] for i in client.http.get("/images").json_body["items"]] == [theirs]
