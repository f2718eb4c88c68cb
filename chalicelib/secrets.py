"""A stage secret from Secrets Manager (its SecretString, AWSCURRENT version), kept for `ttl` seconds.

One GetSecretValue per cold start and then per `ttl`, not one per use; a rotated secret is in use
within `ttl` seconds. A failed read raises and is not kept: the next use reads again.
"""

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


class CachedSecret:
    def __init__(self, secrets_client: "SecretsManagerClient | None", arn: str, unset: Callable[[], Exception],
                 ttl: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._secrets, self._arn, self._unset = secrets_client, arn, unset  # an ARN, or the secret's name
        self._ttl, self._clock = ttl, clock
        self._value: bytes | None = None
        self._read_at = 0.0

    def __call__(self) -> bytes:
        if not self._arn or self._secrets is None:  # no ARN, no client (services.py)
            raise self._unset()
        now = self._clock()
        if self._value is None or now - self._read_at >= self._ttl:
            self._value = self._secrets.get_secret_value(SecretId=self._arn)["SecretString"].encode()
            self._read_at = now
        return self._value
