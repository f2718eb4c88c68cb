"""Completion events and webhooks: signatures, the address guard, delivery, backoff."""

import json
import socket
from pathlib import Path

import boto3
import jsonschema_rs
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import notify
from chalicelib.callbacks import CALLBACK_URL_PATTERN, check_callback_url
from chalicelib.errors import InvalidRequestError
from chalicelib.notify import (
    EventPublisher,
    WebhookRefusedError,
    WebhookSender,
    next_attempt_at,
    resolve_target,
    sign,
    verify,
)
from tests.receiver import Receiver

SECRET = b"s3cret-for-tests"
RECORD = {
    "image_id": "abc", "status": "COMPLETE", "source": {"key": "uploads/abc/cat.jpg"},
    "renditions": [{"name": "thumb", "format": "webp", "key": "renditions/x/thumb.webp", "url": "https://signed"}],
}


def test_signature_covers_timestamp_and_body():
    signature = sign(SECRET, "1700000000", b'{"a":1}')
    assert verify(SECRET, "1700000000", b'{"a":1}', signature, now=1700000100)
    assert not verify(SECRET, "1700000000", b'{"a":2}', signature, now=1700000100)   # body changed
    assert not verify(SECRET, "1700000001", b'{"a":1}', signature, now=1700000100)   # timestamp changed
    assert not verify(SECRET, "1700000000", b'{"a":1}', signature, now=1700009999)   # a replay, too old
    assert not verify(b"other", "1700000000", b'{"a":1}', signature, now=1700000100)


@pytest.mark.parametrize("url", [
    "http://example.com/hook", "ftp://example.com/", "https://", "https://user:pw@example.com/",
    "https://example.com:99999/", "https://example.com/#frag", "x" * 3000, 42, None, "",
    "javascript:alert(1)", "https://exa mple.com/"[:0] + "https:///path",
])
def test_callback_urls_that_are_refused_when_given(url):
    with pytest.raises(InvalidRequestError):
        check_callback_url(url, allow_local=False)


def test_plain_http_only_on_the_local_stage():
    assert check_callback_url("https://hooks.example.com/imgpipe?x=1", allow_local=False)
    assert check_callback_url("http://127.0.0.1:9000/hook", allow_local=True)
    with pytest.raises(InvalidRequestError, match="must be an https:// URL"):
        check_callback_url("http://hooks.example.com/imgpipe", allow_local=False)
    with pytest.raises(InvalidRequestError, match="must be an http:// or https:// URL"):
        check_callback_url("ftp://127.0.0.1/hook", allow_local=True)  # the message names what is allowed


def fake_dns(monkeypatch, *addresses):
    def getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in addresses]
    monkeypatch.setattr(notify.socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize("addresses", [
    ("127.0.0.1",), ("10.1.2.3",), ("172.16.0.9",), ("192.168.1.1",), ("169.254.169.254",),
    ("100.64.0.1",), ("0.0.0.0",), ("::1",), ("fd00:ec2::254",), ("fe80::1",), ("::ffff:127.0.0.1",),
    ("224.0.0.1",), ("93.184.215.14", "10.0.0.1"),  # one private answer among public ones
])
def test_names_that_resolve_inside_are_refused_at_send_time(monkeypatch, addresses):
    fake_dns(monkeypatch, *addresses)
    with pytest.raises(WebhookRefusedError):
        resolve_target("hooks.example.com", 443, allow_local=False)


def test_public_names_resolve_and_local_allows_only_loopback(monkeypatch):
    fake_dns(monkeypatch, "93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    assert resolve_target("hooks.example.com", 443, allow_local=False) == "93.184.215.14"
    fake_dns(monkeypatch, "127.0.0.1")
    assert resolve_target("localhost", 80, allow_local=True) == "127.0.0.1"
    fake_dns(monkeypatch, "10.0.0.5")
    with pytest.raises(WebhookRefusedError):
        resolve_target("intranet", 80, allow_local=True)


def test_a_delivery_is_signed_and_verifiable_by_the_receiver():
    sender = WebhookSender(SECRET, allow_local=True, clock=lambda: 1700000000)
    with Receiver() as receiver:
        attempt = sender.send(receiver.url, RECORD, "2026-11-30T00:00:00.000Z")
    assert attempt.delivered and attempt.status == 204
    [(path, headers, body)] = receiver.received
    assert path == "/hooks/imgpipe?tenant=7"
    assert headers["X-Imgpipe-Event"] == "Image Completed"
    assert verify(SECRET, headers["X-Imgpipe-Timestamp"], body, headers["X-Imgpipe-Signature"], now=1700000001)
    delivered = json.loads(body)
    assert delivered["image_id"] == "abc" and "url" not in delivered["renditions"][0]


def test_a_receiver_error_is_an_attempt_to_retry_and_a_private_target_is_final():
    with Receiver(503) as receiver:
        failed = WebhookSender(SECRET, allow_local=True).send(receiver.url, RECORD, "t")
        refused = WebhookSender(SECRET, allow_local=False).send(receiver.url, RECORD, "t")
    assert (failed.status, failed.delivered, failed.retry) == (503, False, True)
    assert refused.status is None and not refused.retry and refused.error.startswith("refused")
    assert len(receiver.received) == 1  # the refused one never connected


def test_nobody_listening_is_an_attempt_to_retry():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    attempt = WebhookSender(SECRET, allow_local=True).send(f"http://127.0.0.1:{port}/", RECORD, "t")
    assert attempt.status is None and attempt.retry and "ConnectionRefusedError" in attempt.error


def test_backoff_doubles_and_gives_up_after_a_day():
    first = 1_000_000.0
    assert next_attempt_at(first, first, 1) == first + 60
    assert next_attempt_at(first, first + 60, 2) == first + 180
    assert next_attempt_at(first, first + 20 * 3600, 10) is None


def test_final_states_become_eventbridge_events(aws):
    events = boto3.client("events", region_name="us-east-1")
    events.create_event_bus(Name="imgpipe-test")
    queue_url = aws.sqs.create_queue(QueueName="imgpipe-test-final")["QueueUrl"]
    queue_arn = aws.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="failed-images", EventBusName="imgpipe-test",
                    EventPattern=json.dumps({"source": ["imgpipe"], "detail-type": ["Image Failed"]}))
    events.put_targets(Rule="failed-images", EventBusName="imgpipe-test", Targets=[{"Id": "q", "Arn": queue_arn}])
    publisher = EventPublisher(events, "imgpipe-test")
    publisher.publish(RECORD)  # COMPLETE: not matched by the rule
    publisher.publish({**RECORD, "image_id": "bad", "status": "FAILED", "renditions": [],
                       "error": {"code": "corrupt_image", "message": "The file is damaged."}})
    messages = aws.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    [event] = [json.loads(m["Body"]) for m in messages]
    assert (event["source"], event["detail-type"]) == ("imgpipe", "Image Failed")
    assert event["detail"]["image_id"] == "bad" and event["detail"]["error"]["code"] == "corrupt_image"


SPEC = yaml.safe_load((Path(__file__).resolve().parents[1] / "docs" / "openapi.yaml").read_text())
CALLBACK_SCHEMA = SPEC["paths"]["/uploads"]["post"]["requestBody"]["content"]["application/json"][
    "schema"]["properties"]["callback_url"]


@settings(max_examples=150, deadline=None)
@given(url=st.text(max_size=40) | st.from_regex(CALLBACK_URL_PATTERN) | st.sampled_from([
    "https://a.example/\n", "https://a.example:65535/x?y=1", "https://a.example:65536/",
    "https://a_b.example/", "https://-a.example/", "https://a.example./", "https://xn--d1acufc.xn--p1ai/",
    "https://[::1]/"]))
def test_the_openapi_callback_url_schema_is_exactly_what_is_accepted(url):
    """docs/openapi.yaml's callback_url as jsonschema_rs (ECMA regexes, schemathesis' judge) reads
    it, with plain http as the local stack (where schemathesis runs) allows it."""
    by_ecma = jsonschema_rs.validator_for(CALLBACK_SCHEMA).is_valid(url)
    try:
        check_callback_url(url, allow_local=True)
        accepted = True
    except InvalidRequestError:
        accepted = False
    assert accepted == by_ecma
    assert CALLBACK_SCHEMA["pattern"] == CALLBACK_URL_PATTERN
