"""Events and webhooks wired to the pipeline: once per final state, retried by the sweeper, recorded."""

import json

import boto3
import pytest

import app as app_module
from chalicelib.clock import iso_now
from chalicelib.config import load_settings
from chalicelib.errors import ConfigError
from chalicelib.notify import FIRST_RETRY_SECONDS, GIVE_UP_AFTER_SECONDS, verify
from chalicelib.pipeline import ImagePipeline
from chalicelib.sweeper import sweep
from tests.conftest import TEST_ENV, reset_app_clients
from tests.images import jpeg
from tests.receiver import Receiver

SECRET = "test-webhook-secret"
BUS = "imgpipe-test"
T0 = 1_900_000_000.0  # the pipeline's clock: every time in these tests is explicit
JSON = {"Content-Type": "application/json"}


class Events:
    """The stage's bus, a rule for source imgpipe into a queue, and the signing secret, in moto."""

    def __init__(self, sqs) -> None:
        self.sqs, self.client = sqs, boto3.client("events", region_name="us-east-1")
        self.queue_url = sqs.create_queue(QueueName="imgpipe-test-notifications")["QueueUrl"]
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        self.secret_arn = secrets.create_secret(Name="imgpipe-test-webhook", SecretString=SECRET)["ARN"]

    def create_bus(self, name: str = BUS) -> None:
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.client.create_event_bus(Name=name)
        pattern = json.dumps({"source": ["imgpipe"]})
        self.client.put_rule(Name="all-images", EventBusName=name, EventPattern=pattern)
        self.client.put_targets(Rule="all-images", EventBusName=name, Targets=[{"Id": "q", "Arn": arn}])

    def received(self) -> list[dict]:
        got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        for message in got:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in got]


@pytest.fixture
def events(aws, monkeypatch):
    found = Events(aws.sqs)
    found.create_bus()
    monkeypatch.setenv("EVENT_BUS_NAME", BUS)
    monkeypatch.setenv("WEBHOOK_SECRET_ARN", found.secret_arn)
    monkeypatch.setenv("UNSAFE_LOCAL_WEBHOOKS", "true")
    reset_app_clients()
    return found


def pipeline_at(now: float) -> ImagePipeline:
    pipeline = app_module.get_pipeline()
    pipeline.clock = lambda: now
    return pipeline


def upload(client, aws, callback_url: str | None, body: bytes | None = None, name: str = "cat.jpg") -> tuple:
    request = {"filename": name, "content_type": "image/jpeg"}
    if callback_url:
        request["callback_url"] = callback_url
    created = client.http.post("/uploads", headers=JSON, body=json.dumps(request))
    assert created.status_code == 201, created.body
    key = created.json_body["upload"]["fields"]["key"]
    aws.put(key, jpeg(64, 48) if body is None else body)
    return created.json_body["image_id"], key


def record(image_id: str) -> dict:
    return app_module.get_status_store().get(image_id)


def due(at: float) -> list[str]:
    return app_module.get_status_store().due_notifications(iso_now(at), 100)


def test_a_final_state_sends_one_signed_webhook_and_one_event(client, aws, events):
    with Receiver(204) as receiver:
        image_id, key = upload(client, aws, receiver.url)
        assert record(image_id)["webhook"] == {"url": receiver.url, "state": "pending", "attempts": []}
        assert pipeline_at(T0).process_object(key).result == "COMPLETE"
        # Duplicates and a reprocess of the same bytes (a re-render) notify nobody again.
        assert pipeline_at(T0 + 5).process_object(key).result == "duplicate"
        assert app_module.get_status_store().reopen(image_id, iso_now(T0 + 6))
        assert pipeline_at(T0 + 7).process_object(key).result == "COMPLETE"
    [(path, headers, body)] = receiver.received
    assert path == "/hooks/imgpipe?tenant=7" and headers["X-Imgpipe-Event"] == "Image Completed"
    assert verify(SECRET.encode(), headers["X-Imgpipe-Timestamp"], body, headers["X-Imgpipe-Signature"],
                  now=int(headers["X-Imgpipe-Timestamp"]))
    sent = json.loads(body)
    assert sent["image_id"] == image_id and sent["status"] == "COMPLETE" and "webhook" not in sent
    assert all("url" not in r for r in sent["renditions"])
    webhook = record(image_id)["webhook"]
    assert webhook["state"] == "delivered"
    assert webhook["attempts"] == [{"at": iso_now(T0), "status": 204, "error": None, "retry": None}]
    [event] = events.received()
    assert (event["source"], event["detail-type"]) == ("imgpipe", "Image Completed")
    assert event["detail"]["image_id"] == image_id and "webhook" not in event["detail"]
    keys = {r["key"] for r in record(image_id)["renditions"]}
    assert {r["key"] for r in event["detail"]["renditions"]} == keys
    assert due(T0 + GIVE_UP_AFTER_SECONDS * 2) == []  # nothing left for the sweeper


def test_a_failed_image_is_an_image_failed_event_and_webhook(client, aws, events):
    with Receiver(200) as receiver:
        image_id, key = upload(client, aws, receiver.url, body=b"not an image at all")
        assert pipeline_at(T0).process_object(key).result == "FAILED"
    [(_, headers, body)] = receiver.received
    assert headers["X-Imgpipe-Event"] == "Image Failed"
    assert json.loads(body)["error"]["code"] == "unsupported_format"
    [event] = events.received()
    assert event["detail-type"] == "Image Failed" and event["detail"]["error"]["code"] == "unsupported_format"


def test_an_upload_that_never_arrives_notifies_its_failure(client, aws, events):
    with Receiver(204) as receiver:
        created = client.http.post("/uploads", headers=JSON, body=json.dumps(
            {"filename": "never.jpg", "content_type": "image/jpeg", "callback_url": receiver.url})).json_body
        sweep(pipeline_at(T0 + 3600), T0 + 3600 + 86400 * 365)  # long after the URL expired
    [(_, headers, body)] = receiver.received
    assert json.loads(body)["error"]["code"] == "upload_expired"
    assert record(created["image_id"])["webhook"]["state"] == "delivered"
    assert [e["detail-type"] for e in events.received()] == ["Image Failed"]


def test_a_5xx_is_retried_by_the_sweeper_after_the_backoff(client, aws, events):
    with Receiver(500, 200) as receiver:
        image_id, key = upload(client, aws, receiver.url)
        pipeline = pipeline_at(T0)
        assert pipeline.process_object(key).result == "COMPLETE"  # the webhook changes nothing of that
        first = record(image_id)["webhook"]
        assert first["state"] == "pending"
        assert first["attempts"] == [{"at": iso_now(T0), "status": 500, "error": "the receiver answered 500",
                                      "retry": iso_now(T0 + FIRST_RETRY_SECONDS)}]
        assert due(T0 + FIRST_RETRY_SECONDS - 1) == []
        sweep(pipeline, T0 + FIRST_RETRY_SECONDS - 1)  # not due yet
        assert len(receiver.received) == 1
        sweep(pipeline, T0 + FIRST_RETRY_SECONDS)
    assert len(receiver.received) == 2
    webhook = record(image_id)["webhook"]
    assert webhook["state"] == "delivered" and [a["status"] for a in webhook["attempts"]] == [500, 200]
    assert len(events.received()) == 1  # the event went out once, with the first attempt
    assert due(T0 + GIVE_UP_AFTER_SECONDS * 2) == []


def test_retries_back_off_and_stop_after_the_bound(client, aws, events):
    with Receiver(503) as receiver:
        image_id, key = upload(client, aws, receiver.url)
        pipeline = pipeline_at(T0)
        pipeline.process_object(key)
        for _ in range(30):  # the sweeper, run exactly when each retry is due
            attempts = record(image_id)["webhook"]["attempts"]
            if attempts[-1]["retry"] is None:
                break
            sweep(pipeline, datetime_epoch(attempts[-1]["retry"]))
    webhook = record(image_id)["webhook"]
    times = [datetime_epoch(a["at"]) - T0 for a in webhook["attempts"]]
    assert times == [0, 60, 180, 420, 900, 1860, 3780, 7620, 15300, 30660, 61380]  # 1, 2, 4 … minutes apart
    assert webhook["state"] == "failed" and len(receiver.received) == 11
    assert due(T0 + GIVE_UP_AFTER_SECONDS * 10) == []


def datetime_epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


@pytest.mark.parametrize("status, state", [(404, "failed"), (410, "failed"), (301, "failed"),
                                           (408, "pending"), (429, "pending"), (502, "pending")])
def test_which_answers_are_retried(client, aws, events, status, state):
    with Receiver(status) as receiver:
        image_id, key = upload(client, aws, receiver.url)
        pipeline_at(T0).process_object(key)
    webhook = record(image_id)["webhook"]
    assert webhook["state"] == state and len(webhook["attempts"]) == 1
    assert due(T0 + FIRST_RETRY_SECONDS) == ([image_id] if state == "pending" else [])


def test_a_target_refused_at_send_time_is_never_retried(client, aws, events, monkeypatch):
    with Receiver(204) as receiver:
        image_id, key = upload(client, aws, receiver.url)  # accepted: the API ran with the local switch on
        monkeypatch.setenv("UNSAFE_LOCAL_WEBHOOKS", "false")  # the resize function of a deployed stage
        reset_app_clients()
        assert pipeline_at(T0).process_object(key).result == "COMPLETE"
    assert receiver.received == []
    webhook = record(image_id)["webhook"]
    assert webhook["state"] == "failed" and webhook["attempts"][0]["error"].startswith("refused")
    assert webhook["attempts"][0]["retry"] is None and due(T0 + GIVE_UP_AFTER_SECONDS) == []


def test_an_event_eventbridge_refused_is_retried_by_the_sweeper(client, aws, events, monkeypatch, caplog):
    monkeypatch.setenv("EVENT_BUS_NAME", "imgpipe-late")  # the bus does not exist yet
    reset_app_clients()
    image_id, key = upload(client, aws, None)
    pipeline = pipeline_at(T0)
    assert pipeline.process_object(key).result == "COMPLETE"
    assert "was not published (attempt 1)" in caplog.text  # logged, not silent
    assert events.received() == [] and due(T0 + FIRST_RETRY_SECONDS) == [image_id]
    events.create_bus("imgpipe-late")
    sweep(pipeline, T0 + FIRST_RETRY_SECONDS)
    [event] = events.received()
    assert event["detail"]["image_id"] == image_id and due(T0 + GIVE_UP_AFTER_SECONDS) == []


def test_a_notification_survives_an_invocation_dying_after_the_final_write(client, aws, events):
    with Receiver(204) as receiver:
        image_id, key = upload(client, aws, receiver.url)
        app = app_module.get_pipeline()
        dying = ImagePipeline(app.settings, app.storage, app.store, lambda: T0, notifier=None)
        assert dying.process_object(key).result == "COMPLETE"  # and then it was gone
        assert receiver.received == [] and due(T0) == [image_id]
        sweep(pipeline_at(T0 + 300), T0 + 300)
    assert len(receiver.received) == 1 and record(image_id)["webhook"]["state"] == "delivered"
    assert len(events.received()) == 1


def test_one_sender_at_a_time(client, aws, events):
    """The pipeline holds the lease while it sends; a sweeper arriving meanwhile gets nothing."""
    app = app_module.get_pipeline()
    image_id, key = upload(client, aws, "https://hooks.example.com/x")
    ImagePipeline(app.settings, app.storage, app.store, lambda: T0, notifier=None).process_object(key)
    store = app_module.get_status_store()
    held = store.lease_notification(image_id, T0, 60, events=True)
    assert held is not None and held.webhook["state"] == "pending" and held.event_due is not None
    assert store.lease_notification(image_id, T0 + 1, 60, events=True) is None  # the lease is live
    assert store.save_notification(held, {**held.webhook, "state": "delivered"}, None, None)
    assert not store.save_notification(held, held.webhook, None, None)  # a lease is used once
    assert store.lease_notification(image_id, T0 + 120, 60, events=True) is None  # nothing owed


def test_notifying_never_changes_the_result(client, aws, events, monkeypatch):
    image_id, key = upload(client, aws, "https://hooks.example.com/x")
    store = app_module.get_status_store()
    monkeypatch.setattr(store, "lease_notification", lambda *a: (_ for _ in ()).throw(RuntimeError("down")))
    assert pipeline_at(T0).process_object(key).result == "COMPLETE"
    assert record(image_id)["status"] == "COMPLETE" and due(T0) == [image_id]  # the sweeper's, later


def test_the_secret_is_read_once_per_cold_start(client, aws, events):
    calls = []
    boto3._get_default_session().events.register(
        "provide-client-params.secrets-manager.GetSecretValue", lambda **kw: calls.append(1))
    with Receiver(204) as receiver:
        for name in ("a.jpg", "b.jpg"):
            _, key = upload(client, aws, receiver.url, name=name)
            pipeline_at(T0).process_object(key)
    assert len(receiver.received) == 2 and len(calls) == 1


@pytest.mark.parametrize("url", ["http://hooks.example.com/x", "https://127.0.0.1:99999/", "ftp://x/",
                                 "https://a@hooks.example.com/", None, 7])
def test_post_uploads_refuses_a_bad_callback_url(client, aws, url):
    body = {"filename": "a.jpg", "content_type": "image/jpeg", "callback_url": url}
    response = client.http.post("/uploads", headers=JSON, body=json.dumps(body))
    assert response.status_code == 400 and response.json_body["error"]["code"] == "bad_request"
    assert "callback_url" in response.json_body["error"]["message"]


def test_plain_http_and_loopback_only_with_the_local_switch(client, aws, monkeypatch):
    body = json.dumps({"filename": "a.jpg", "content_type": "image/jpeg",
                       "callback_url": "http://127.0.0.1:9/h"})
    assert client.http.post("/uploads", headers=JSON, body=body).status_code == 400
    monkeypatch.setenv("UNSAFE_LOCAL_WEBHOOKS", "true")
    reset_app_clients()
    created = client.http.post("/uploads", headers=JSON, body=body)
    assert created.status_code == 201
    assert record(created.json_body["image_id"])["webhook"]["url"] == "http://127.0.0.1:9/h"


def test_the_local_switch_is_true_or_false():
    assert not load_settings(dict(TEST_ENV)).unsafe_local_webhooks
    assert load_settings({**TEST_ENV, "UNSAFE_LOCAL_WEBHOOKS": "true"}).unsafe_local_webhooks
    with pytest.raises(ConfigError, match="UNSAFE_LOCAL_WEBHOOKS"):
        load_settings({**TEST_ENV, "UNSAFE_LOCAL_WEBHOOKS": "yes"})
