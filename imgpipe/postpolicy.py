"""S3's browser-form POST rules, enforced in front of moto (which stores any form it is sent).

A presigned POST (botocore `generate_presigned_post`, SigV4) is a base64
policy document, signed with a key derived from the secret for the
credential's date, region and service. Before storing anything S3 refuses a
form whose signature does not match, whose policy has expired, whose fields
break a condition or are not covered by one, or whose file is outside
`content-length-range`; this module does the same, with S3's codes and
messages (sigv4-HTTPPOSTConstructPolicy in the S3 API reference).

No maintained verifier runs here: moto has none, and LocalStack's is part of
its own request framework. What is left out: SigV2 forms (botocore signs
SigV4 when asked, and imgpipe asks), `${filename}` in the key, and S3's rule
that fields after the file are ignored (every field is checked instead).
"""

import base64
import binascii
import hashlib
import hmac
import io
import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication

# Fields S3 never asks a condition for (x-ignore-* too).
_UNCONDITIONED = {"policy", "x-amz-signature", "file"}
_NEEDED = ("x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature")


@dataclass
class PostRefused(Exception):
    status: int
    code: str
    message: str
    details: dict[str, object] = field(default_factory=dict)

    def xml(self) -> bytes:
        details = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in self.details.items())
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{self.code}</Code>'
                f"<Message>{escape(self.message)}</Message>{details}"
                f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>").encode()


def _denied(message: str) -> PostRefused:
    return PostRefused(403, "AccessDenied", f"Invalid according to Policy: {message}")


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _check_signature(fields: Mapping[str, list[str]], policy_b64: str, secrets: Mapping[str, str]) -> None:
    for name in _NEEDED:
        if name not in fields:
            raise PostRefused(400, "InvalidArgument", f"Bucket POST must contain a field named '{name}'.  "
                              "If it is specified, please check the order of the fields.")
    if fields["x-amz-algorithm"][0] != "AWS4-HMAC-SHA256":
        raise PostRefused(400, "InvalidArgument", "Only the AWS4-HMAC-SHA256 algorithm is supported.")
    parts = fields["x-amz-credential"][0].split("/")
    if len(parts) != 5 or parts[3:] != ["s3", "aws4_request"]:
        raise PostRefused(400, "InvalidArgument", "The x-amz-credential field is malformed: it must be "
                          "ACCESS_KEY/YYYYMMDD/REGION/s3/aws4_request.")
    secret = secrets.get(parts[0])
    if secret is None:
        raise PostRefused(403, "InvalidAccessKeyId",
                          "The AWS Access Key Id you provided does not exist in our records.")
    expected = hmac.new(signing_key(secret, *parts[1:4]), policy_b64.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields["x-amz-signature"][0]):
        raise PostRefused(403, "SignatureDoesNotMatch", "The request signature we calculated does not match "
                          "the signature you provided. Check your key and signing method.")


def _decode_policy(policy_b64: str) -> dict:
    try:
        policy = json.loads(base64.b64decode(policy_b64, validate=True))
    except (binascii.Error, ValueError):
        raise PostRefused(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.") from None
    if not isinstance(policy, dict) or not isinstance(policy.get("conditions"), list):
        raise PostRefused(400, "InvalidPolicyDocument", "Invalid Policy: Policy missing conditions.")
    if not isinstance(policy.get("expiration"), str):
        raise PostRefused(400, "InvalidPolicyDocument", "Invalid Policy: Policy missing expiration.")
    return policy


def _check_expiry(expiration: str, now: float) -> None:
    try:
        expires = datetime.fromisoformat(expiration).timestamp()
    except ValueError:
        raise PostRefused(400, "InvalidPolicyDocument", "Invalid Policy: Invalid 'expiration' value: "
                          f"'{expiration[:64]}'") from None
    if now > expires:
        raise _denied("Policy expired.")


def _normalise(condition: object) -> list:
    """A condition as S3 prints it: ["eq"|"starts-with", "$field", value] or the size range."""
    if isinstance(condition, dict) and len(condition) == 1:
        ((name, value),) = condition.items()
        return ["eq", f"${name}", value]
    if isinstance(condition, list) and len(condition) == 3:
        op = str(condition[0]).lower()
        if op in ("eq", "starts-with") and str(condition[1]).startswith("$"):
            return [op, condition[1], condition[2]]
        if op == "content-length-range" and all(isinstance(n, int) for n in condition[1:]):
            return [op, condition[1], condition[2]]
    raise PostRefused(400, "InvalidPolicyDocument",
                      f"Invalid Policy: Invalid Simple-Condition: {json.dumps(condition)[:200]}")


def check_post(bucket: str, form: Iterable[tuple[str, str]], file_size: int | None,
               secrets: Mapping[str, str], now: float) -> None:
    """Raise PostRefused unless S3 would store this form POST; `form` excludes the file."""
    fields: dict[str, list[str]] = {}
    for name, value in form:
        fields.setdefault(name.lower(), []).append(value)  # S3 field names ignore case
    if "policy" not in fields:
        # No policy is an anonymous write: only a public-write bucket takes it.
        raise PostRefused(403, "AccessDenied", "Access Denied")
    policy_b64 = fields["policy"][0]
    _check_signature(fields, policy_b64, secrets)
    policy = _decode_policy(policy_b64)
    _check_expiry(policy["expiration"], now)
    if file_size is None:
        raise PostRefused(400, "InvalidArgument", "POST requires exactly one file upload per request.")
    covered, size_range = set(), None
    for condition in map(_normalise, policy["conditions"]):
        op, name, expected = condition
        if op == "content-length-range":
            size_range = (name, expected)
            continue
        name = name[1:].lower()
        covered.add(name)
        actual = [bucket] if name == "bucket" else fields.get(name, [])
        if op == "eq":
            ok = bool(actual) and all(value == expected for value in actual)
        else:
            ok = bool(actual) and all(value.startswith(str(expected)) for value in actual)
        if not ok:
            raise _denied(f"Policy Condition failed: {json.dumps(condition)}")
    extra = [n for n in fields
             if n not in covered and n not in _UNCONDITIONED and not n.startswith("x-ignore-")]
    if extra:
        raise _denied(f"Extra input fields: {', '.join(extra)}")
    if size_range and file_size < size_range[0]:
        raise PostRefused(400, "EntityTooSmall",
                          "Your proposed upload is smaller than the minimum allowed size",
                          {"ProposedSize": file_size, "MinSizeAllowed": size_range[0]})
    if size_range and file_size > size_range[1]:
        raise PostRefused(400, "EntityTooLarge",
                          "Your proposed upload exceeds the maximum allowed size",
                          {"ProposedSize": file_size, "MaxSizeAllowed": size_range[1]})


def form_bucket(environ: dict) -> str:
    """The bucket a request names: path-style `/BUCKET`, else virtual-hosted `BUCKET.s3…`."""
    path_bucket = environ.get("PATH_INFO", "").strip("/").split("/")[0]
    if path_bucket:
        return path_bucket
    host = environ.get("HTTP_HOST", "").split(":")[0]
    return host.split(".")[0] if ".s3" in host or host.endswith(".localhost") else ""


class PostPolicyCheck:
    """WSGI middleware: an S3 form POST reaches moto only if S3 would accept it."""

    def __init__(
        self, app: "WSGIApplication", secrets: Mapping[str, str], clock: Callable[[], float] = time.time
    ) -> None:
        self.app, self.secrets, self.clock = app, secrets, clock

    def __call__(self, environ: dict, start_response: "StartResponse") -> Iterable[bytes]:
        content_type = environ.get("CONTENT_TYPE", "").lower()
        if environ.get("REQUEST_METHOD") != "POST" or not content_type.startswith("multipart/form-data"):
            return self.app(environ, start_response)
        from werkzeug.formparser import parse_form_data
        from werkzeug.wsgi import get_input_stream

        body = get_input_stream(environ).read()
        replay = {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
        _, form, files = parse_form_data({**replay, "wsgi.input": io.BytesIO(body)})
        file = files.get("file")
        size = None if file is None else len(file.stream.read())
        try:
            check_post(form_bucket(environ), form.items(multi=True), size, self.secrets, self.clock())
        except PostRefused as refused:
            start_response(f"{refused.status} {HTTPStatus(refused.status).phrase}",
                           [("Content-Type", "application/xml")])
            return [refused.xml()]
        return self.app(replay, start_response)
