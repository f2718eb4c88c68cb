"""Who is calling: one `Caller` from what API Gateway put in the request context.

The owner is the token's `sub` (Cognito), the principal of a Lambda authorizer,
the IAM user, or (AUTH=api_key) the key's id. An admin (the token's
`cognito:groups` holds ADMIN_GROUP, or its `scope` holds ADMIN_SCOPE) sees every
image. Storage and status never parse tokens: they get `Caller.sees`.
"""

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    owner: str | None  # whose new images these are; None only on an open API (AUTH=none)
    admin: bool = False

    @property
    def sees(self) -> str | None:
        """The owner whose images this caller may read and change; None: every image."""
        return None if self.admin else self.owner


def request_owner(context: dict | None) -> str | None:
    """Who is calling, when API Gateway knows: the principal of a Cognito/Lambda
    authorizer, the API key id, or the IAM user. None when the API is open."""
    context = context or {}
    authorizer = context.get("authorizer") or {}
    claims = authorizer.get("claims") or {}
    identity = context.get("identity") or {}
    return (
        claims.get("sub")
        or authorizer.get("principalId")
        or identity.get("apiKeyId")
        or identity.get("userArn")
        or None
    )


def claim_values(value: object) -> tuple[str, ...]:
    """A list claim as API Gateway hands it over: a JSON list (chalice local), or flattened to
    a string by the REST API's Cognito authorizer ("a,b" or "[a b]"); a scope is space-separated."""
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    if not isinstance(value, str):
        return ()
    return tuple(v for v in re.split(r"[\s,]+", value.strip().strip("[]")) if v)


def caller_of(context: dict | None, admin_group: str, admin_scope: str = "") -> Caller:
    """The Caller of a request; an admin only through a verified token (never a header)."""
    claims = ((context or {}).get("authorizer") or {}).get("claims") or {}
    admin = bool(admin_group) and admin_group in claim_values(claims.get("cognito:groups"))
    admin = admin or (bool(admin_scope) and admin_scope in claim_values(claims.get("scope")))
    return Caller(request_owner(context), admin)
