"""The local stack's token issuer: what Cognito is to a deployed stage.

`make run` signs ID tokens (HS256, a development key made once per state dir)
for any name asked of it at POST /local-auth/token, and its gateway refuses a
request whose Authorization token it did not sign, as API Gateway's Cognito
authorizer refuses a forged one. Chalice's local gateway then hands the claims
to the app (`cognito:username`, `sub`, `cognito:groups`) exactly as API Gateway
does, so the app runs its one AUTH=cognito code path here too.

Anyone on this machine can ask for any name: the issuer gives the local stack
several users to test isolation with, not security. It is never shipped to
Lambda (imgpipe/ is operator tooling); a deployed stage verifies Cognito's tokens.
"""

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from pathlib import Path

TOKEN_PATH = "/local-auth/token"
ISSUER = "imgpipe-local"
TOKEN_SECONDS = 12 * 3600
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class DevIssuer:
    def __init__(self, key: bytes, admin_group: str) -> None:
        self._key = key
        self.admin_group = admin_group

    @classmethod
    def in_state_dir(cls, state_dir: Path, admin_group: str) -> "DevIssuer":
        """The key kept in the state dir (mode 0600): tokens outlive a restart of the stack."""
        path = state_dir / "dev-token-key"
        if not path.exists():
            state_dir.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(32), "utf-8")
        return cls(path.read_text("utf-8").strip().encode(), admin_group)

    def issue(self, name: str, admin: bool = False, now: float | None = None) -> str:
        """An ID token for `name` (its `sub` too), in the admin group if asked."""
        if not NAME.fullmatch(name):
            raise ValueError("A name is 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit.")
        now = time.time() if now is None else now
        claims = {"sub": name, "cognito:username": name, "iss": ISSUER, "aud": ISSUER, "token_use": "id",
                  "iat": int(now), "exp": int(now) + TOKEN_SECONDS,
                  **({"cognito:groups": [self.admin_group]} if admin else {})}
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{head}.{body}.{self._sign(f'{head}.{body}')}"

    def _sign(self, signed: str) -> str:
        return _b64(hmac.new(self._key, signed.encode("ascii"), hashlib.sha256).digest())

    def verify(self, header: str, now: float | None = None) -> dict | None:
        """The claims of a token this issuer signed and that has not expired; None otherwise."""
        token = header.strip().removeprefix("Bearer ").strip()
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            if json.loads(_unb64(parts[0])).get("alg") != "HS256":
                return None
            if not hmac.compare_digest(self._sign(f"{parts[0]}.{parts[1]}"), parts[2]):
                return None
            claims = json.loads(_unb64(parts[1]))
        except (ValueError, UnicodeDecodeError, AttributeError):
            return None
        now = time.time() if now is None else now
        if not isinstance(claims, dict) or claims.get("iss") != ISSUER or not now < claims.get("exp", 0):
            return None
        return claims
