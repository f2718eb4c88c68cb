"""The one way imgpipe writes a time: ISO 8601 in UTC, to the millisecond, with a `Z`.

Records, events, webhooks and the sweeper's queries all compare these strings,
so every writer must produce exactly this form (DynamoDB sorts range keys as text).
"""

from datetime import datetime, timezone


def iso_now(epoch: float) -> str:
    """`epoch` (seconds since 1970) as e.g. `2026-01-31T12:00:00.000Z`."""
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
