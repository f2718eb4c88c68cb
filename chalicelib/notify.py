"""Telling other systems that an image reached its final state.

Two channels, both called once by the pipeline after COMPLETE or FAILED:
an EventBridge event (for AWS-side consumers, through rules) and the
uploader's webhook (for anything on the internet). Neither may change the
image's result: a failure to notify is logged and recorded, never raised.

A webhook target is an address an anonymous caller chose, so it is checked
when it is sent to, not only when it was given: every address the name
resolves to must be public, and the connection goes to the address that was
checked (no second DNS answer can point it at the metadata service).
"""

import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from chalicelib.errors import InvalidRequestError

EVENT_SOURCE = "imgpipe"
DETAIL_TYPES = {"COMPLETE": "Image Completed", "FAILED": "Image Failed"}
TIMESTAMP_HEADER = "X-Imgpipe-Timestamp"
SIGNATURE_HEADER = "X-Imgpipe-Signature"
EVENT_HEADER = "X-Imgpipe-Event"
MAX_URL_LENGTH = 2048
SEND_TIMEOUT_SECONDS = 5
# Exponential backoff between webhook attempts, and when to give up.
FIRST_RETRY_SECONDS = 60
GIVE_UP_AFTER_SECONDS = 24 * 3600


class WebhookRefusedError(Exception):
    """The target may not be called (a private address, a bad scheme): never retried."""


def event_detail(record: dict) -> dict:
    """The public record without URLs: events outlive presigned links."""
    detail = {k: v for k, v in record.items() if k != "webhook"}
    detail["renditions"] = [{k: v for k, v in r.items() if k != "url"} for r in record.get("renditions", [])]
    return detail


def event_entry(record: dict, bus: str) -> dict:
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

    def __init__(self, events_client: Any, bus: str) -> None:
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


def check_callback_url(url: object, allow_local: bool) -> str:
    """The `callback_url` of POST /uploads, or InvalidRequestError saying why not.

    Only the form is checked here; the address is checked again at send time,
    when it is resolved. `allow_local` (the `local` stage only) allows plain
    http and loopback receivers.
    """
    if not isinstance(url, str) or not 0 < len(url) <= MAX_URL_LENGTH:
        raise InvalidRequestError(f"callback_url must be a URL of at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises for a port that is not a number)
    except ValueError:
        raise InvalidRequestError("callback_url is not a valid URL") from None
    schemes = ("https", "http") if allow_local else ("https",)
    if parts.scheme not in schemes:
        raise InvalidRequestError("callback_url must be an https:// URL")
    if not parts.hostname or parts.username or parts.password or parts.fragment:
        raise InvalidRequestError("callback_url needs a host name, and no user name, password or #fragment")
    return url


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve_target(host: str, port: int, allow_local: bool) -> str:
    """One checked address for `host`: every address it resolves to must be
    public (or, with `allow_local`, loopback), so no answer reaches inside."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ConnectionError(f"cannot resolve {host}") from exc
    addresses = [info[4][0] for info in infos]
    for address in addresses:
        if not (_public(address) or (allow_local and ipaddress.ip_address(address.split("%")[0]).is_loopback)):
            raise WebhookRefusedError(f"{host} resolves to a private or reserved address")
    return addresses[0]


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a checked address, with the certificate checked for the host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


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

    def as_dict(self) -> dict:
        return {"at": self.at, "status": self.status, **({"error": self.error} if self.error else {})}


class WebhookSender:
    """POSTs a final record to its callback URL, signed with the stage secret."""

    def __init__(self, secret: bytes, allow_local: bool, clock=time.time) -> None:
        self._secret = secret
        self.allow_local = allow_local
        self.clock = clock

    def send(self, url: str, record: dict, now_iso: str) -> Attempt:
        """One attempt; never raises: what happened is in the Attempt."""
        body = json.dumps(event_detail(record), separators=(",", ":")).encode()
        timestamp = str(int(self.clock()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "imgpipe-webhook/1",
            EVENT_HEADER: DETAIL_TYPES[record["status"]],
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        }
        parts = urlsplit(url)
        try:
            check_callback_url(url, self.allow_local)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            address = resolve_target(parts.hostname, port, self.allow_local)
            kind = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
            connection = kind(parts.hostname, address, port, SEND_TIMEOUT_SECONDS)
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
        return Attempt(now_iso, status, None if 200 <= status < 300 else "the receiver did not answer 2xx")


def next_attempt_at(first: float, last: float, attempts: int) -> float | None:
    """When to try again after `attempts` failed ones (1, 2, 4 … minutes after
    the last), or None once that would be more than a day after the first."""
    due = last + FIRST_RETRY_SECONDS * 2 ** (attempts - 1)
    return due if due - first <= GIVE_UP_AFTER_SECONDS else None
