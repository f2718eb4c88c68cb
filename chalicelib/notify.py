"""Telling other systems that an image reached its final state.

Two channels, sent by the Notifier once per outcome, right after COMPLETE or
FAILED is written: an EventBridge event (for AWS-side consumers, through
rules) and the uploader's webhook (for anything on the internet). Neither may
change the image's result: a failure to notify is logged and recorded, never
raised, and retried by the sweeper (the status store keeps what is due).

A webhook target is an address an anonymous caller chose, so it is checked
when it is sent to, not only when it was given: every address the name
resolves to must be public, and the connection goes to the address that was
checked (no second DNS answer can point it at the metadata service).
"""

import hashlib
import hmac
import http.client
import json
import logging
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from chalicelib.callbacks import check_callback_url, reachable_address
from chalicelib.clock import iso_now
from chalicelib.errors import InvalidRequestError
from chalicelib.secrets import CachedSecret
from chalicelib.status import Delivery, DynamoStatusStore

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef
    from mypy_boto3_secretsmanager import SecretsManagerClient

log = logging.getLogger(__name__)

EVENT_SOURCE = "imgpipe"
DETAIL_TYPES = {"COMPLETE": "Image Completed", "FAILED": "Image Failed"}
TIMESTAMP_HEADER = "X-Imgpipe-Timestamp"
SIGNATURE_HEADER = "X-Imgpipe-Signature"
EVENT_HEADER = "X-Imgpipe-Event"
SEND_TIMEOUT_SECONDS = 5
# Exponential backoff between webhook attempts, and when to give up.
FIRST_RETRY_SECONDS = 60
GIVE_UP_AFTER_SECONDS = 24 * 3600
# How long one invocation may take to send before the sweeper may try instead.
LEASE_SECONDS = 60
# Statuses worth another try: the receiver may be back later. Any other non-2xx is final.
RETRY_STATUSES = (408, 429)
class WebhookRefusedError(Exception):
    """The target may not be called (a private address, a bad scheme): never retried."""


def event_detail(record: dict) -> dict:
    """The public record without URLs: events outlive presigned links."""
    detail = {k: v for k, v in record.items() if k != "webhook"}
    detail["renditions"] = [{k: v for k, v in r.items() if k != "url"} for r in record.get("renditions", [])]
    return detail


def event_entry(record: dict, bus: str) -> "PutEventsRequestEntryTypeDef":
    """One PutEvents entry for a final record."""
    return {
        "Source": EVENT_SOURCE,
        "DetailType": DETAIL_TYPES[record["status"]],
        "Detail": json.dumps(event_detail(record), separators=(",", ":")),
        "EventBusName": bus,
        "Resources": [],
    }


class EventPublisher:
    """EventBridge PutEvents on one bus (the only bus the role may write to)."""

    def __init__(self, events_client: "EventBridgeClient", bus: str) -> None:
        self._events = events_client
        self.bus = bus

    def publish(self, record: dict) -> None:
        response = self._events.put_events(Entries=[event_entry(record, self.bus)])
        if response.get("FailedEntryCount"):
            entry = response["Entries"][0]
            raise RuntimeError(f"EventBridge refused the event: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}")


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """`v1=` + hex HMAC-SHA256 of `timestamp.body`; the timestamp is signed so a
    receiver can refuse replays of an old delivery."""
    return "v1=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, signature: str, now: float, tolerance: int = 300) -> bool:
    """What a receiver does (the README shows the same in a few lines)."""
    try:
        fresh = abs(now - int(timestamp)) <= tolerance
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)


def resolve_target(host: str, port: int, allow_local: bool) -> str:
    """One checked address for `host`: every address it resolves to must be
    public (or, with `allow_local`, loopback), so no answer reaches inside."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ConnectionError(f"cannot resolve {host}") from exc
    # The INET/INET6 sockaddr's first item is the address string (typeshed also allows int).
    addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        if not reachable_address(address, allow_local):
            raise WebhookRefusedError(f"{host} resolves to a private or reserved address")
    return addresses[0]


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a checked address, with the certificate checked for the host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        self._tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self._tls)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt, as kept in the record."""

    at: str
    status: int | None  # the receiver's HTTP status, None when none came
    error: str | None = None
    retry: bool = True  # False when the target itself is refused: trying again cannot help

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def as_dict(self, retry_at: str | None) -> dict:
        """As kept in the record: `retry` is when the next attempt is due, None when none follows."""
        return {"at": self.at, "status": self.status, "error": self.error, "retry": retry_at}


class StageSecret(CachedSecret):
    """The webhook signing secret; rotated, it signs within `ttl` seconds (receivers accept both
    versions meanwhile, docs/DEPLOY.md)."""

    def __init__(self, secrets_client: "SecretsManagerClient | None", arn: str, ttl: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(secrets_client, arn, lambda: WebhookRefusedError(
            "this stage has no webhook secret (WEBHOOK_SECRET_ARN)"), ttl, clock)


def retryable(status: int) -> bool:
    """5xx, 408 and 429 may pass later; another 4xx or a redirect (not followed) will not."""
    return status >= 500 or status in RETRY_STATUSES


class WebhookSender:
    """POSTs a final record to its callback URL, signed with the stage secret."""

    def __init__(self, secret: bytes | Callable[[], bytes], allow_local: bool,
                 clock: Callable[[], float] = time.time) -> None:
        self._secret = secret if callable(secret) else (lambda: secret)
        self.allow_local = allow_local
        self.clock = clock

    def send(self, url: str, record: dict, now_iso: str) -> Attempt:
        """One attempt; never raises: what happened is in the Attempt."""
        body = json.dumps(event_detail(record), separators=(",", ":")).encode()
        timestamp = str(int(self.clock()))
        parts = urlsplit(url)
        try:
            secret = self._secret()
        except WebhookRefusedError as exc:  # this stage has no secret
            return Attempt(now_iso, None, f"refused: {exc}", retry=False)
        except Exception:  # Secrets Manager failed: ours, and passing
            log.exception("webhook secret unavailable")
            return Attempt(now_iso, None, "not sent: the signing secret could not be read")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "imgpipe-webhook/1",
            EVENT_HEADER: DETAIL_TYPES[record["status"]],
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
        }
        try:
            check_callback_url(url, self.allow_local)
            host = parts.hostname
            assert host is not None, "check_callback_url's pattern requires a host"
            port = parts.port or (443 if parts.scheme == "https" else 80)
            address = resolve_target(host, port, self.allow_local)
            kind = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
            connection = kind(host, address, port, SEND_TIMEOUT_SECONDS)
            try:
                target = parts.path or "/"
                connection.request("POST", target + (f"?{parts.query}" if parts.query else ""), body, headers)
                status = connection.getresponse().status  # redirects are not followed
            finally:
                connection.close()
        except (InvalidRequestError, WebhookRefusedError) as exc:
            return Attempt(now_iso, None, f"refused: {exc}", retry=False)
        except (OSError, http.client.HTTPException) as exc:
            return Attempt(now_iso, None, f"no response: {type(exc).__name__}")
        except Exception:  # anything else (a TLS library fault…): logged, retried later
            log.exception("webhook to %s failed", parts.hostname)
            return Attempt(now_iso, None, "not sent: an internal error")
        if 200 <= status < 300:
            return Attempt(now_iso, status)
        return Attempt(now_iso, status, f"the receiver answered {status}", retry=retryable(status))


def next_attempt_at(first: float, last: float, attempts: int) -> float | None:
    """When to try again after `attempts` failed ones (1, 2, 4 … minutes after
    the last), or None once that would be more than a day after the first."""
    due = last + FIRST_RETRY_SECONDS * 2 ** (attempts - 1)
    return due if due - first <= GIVE_UP_AFTER_SECONDS else None


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


class Notifier:
    """Sends what a final state owes, its event and its webhook, and records each attempt.

    Called by the pipeline right after a final write and by the sweeper for whatever is
    due again; the status store's lease makes one of them send at a time. It never
    raises: a notification can fail, the image's result stands.
    """

    def __init__(
        self, store: DynamoStatusStore, publisher: EventPublisher | None, sender: WebhookSender,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store, self._publisher, self._sender, self.clock = store, publisher, sender, clock

    def deliver(self, image_id: str, now: float | None = None) -> str | None:
        """Send what is due for `image_id`; a few words on what happened, None if nothing was."""
        try:
            return self._deliver(image_id, self.clock() if now is None else now)
        except Exception:  # DynamoDB, or a bug: the due mark stays for the sweeper
            log.exception("notifying for %s failed; the sweeper will try again", image_id)
            return None

    def _deliver(self, image_id: str, now: float) -> str | None:
        delivery = self._store.lease_notification(image_id, now, LEASE_SECONDS, self._publisher is not None)
        if delivery is None:
            return None
        event_due, event_next, said = self._publish(delivery, now)
        webhook, webhook_next = delivery.webhook, None
        if webhook and webhook.get("state") == "pending":
            webhook, webhook_next = self._send(delivery, webhook, now)
            said.append(f"webhook {webhook['state']}")
        due = min((t for t in (event_next, webhook_next) if t is not None), default=None)
        if not self._store.save_notification(delivery, webhook, event_due, iso_now(due) if due else None):
            log.warning("the notification of %s was superseded by a newer final state", image_id)
        return ", ".join(said) or None

    def _publish(self, delivery: Delivery, now: float) -> tuple[dict | None, float | None, list[str]]:
        due = delivery.event_due
        if due is None:
            return None, None, []
        if self._publisher is None:
            log.warning("event of %s dropped: EVENT_BUS_NAME is no longer set", delivery.image_id)
            return None, None, ["event dropped"]
        try:
            self._publisher.publish(delivery.record)
            return None, None, ["event sent"]
        except Exception:
            attempts = int(due["attempts"]) + 1
            next_at = next_attempt_at(due["since"], now, attempts)
            if next_at is None:
                log.exception("gave up on the event of %s after %d attempts", delivery.image_id, attempts)
                return None, None, ["event given up"]
            log.exception("the event of %s was not published (attempt %d); next try at %s",
                          delivery.image_id, attempts, iso_now(next_at))
            return {"attempts": attempts, "since": due["since"]}, next_at, ["event pending"]

    def _send(self, delivery: Delivery, webhook: dict, now: float) -> tuple[dict, float | None]:
        attempts = list(webhook.get("attempts", []))
        attempt = self._sender.send(webhook["url"], delivery.record, iso_now(now))
        next_at = None
        if attempt.delivered:
            state = "delivered"
        else:
            first = _epoch(attempts[0]["at"]) if attempts else now
            next_at = next_attempt_at(first, now, len(attempts) + 1) if attempt.retry else None
            state = "pending" if next_at else "failed"
            log.info("webhook of %s: %s; %s", delivery.image_id, attempt.error,
                     f"next try at {iso_now(next_at)}" if next_at else "no further attempt")
        attempts.append(attempt.as_dict(iso_now(next_at) if next_at else None))
        return {**webhook, "state": state, "attempts": attempts}, next_at
