"""DynamoDB status records: one item per image, moved forward by conditional writes.

The package's parts: schema.py (the table and the status values), records.py (what a
record looks like outside DynamoDB, cursors), fanout.py (queries merged over an index's shards), store.py (DynamoStatusStore and the claim
lifecycle), covers.py, queries.py and outbox.py (what the store also does), writes.py
(the conditional write they all use). Import the names below from here.
"""

from chalicelib.clock import iso_now  # here too for importers written before chalicelib.clock
from chalicelib.status.outbox import Delivery
from chalicelib.status.records import (
    CURSOR_PATTERN,
    Claim,
    Position,
    decode_cursor,
    encode_cursor,
    public_record,
    stored_focus,
)
from chalicelib.status.schema import (
    COMPLETE,
    DELETED,
    DUE,
    FAILED,
    PENDING,
    PROCESSING,
    SHARDS,
    STATUSES,
    create_table,
    shard_values,
    table_definition,
)
from chalicelib.status.store import DynamoStatusStore

__all__ = [
    "COMPLETE",
    "CURSOR_PATTERN",
    "DELETED",
    "DUE",
    "FAILED",
    "PENDING",
    "PROCESSING",
    "SHARDS",
    "STATUSES",
    "Claim",
    "Delivery",
    "DynamoStatusStore",
    "Position",
    "create_table",
    "decode_cursor",
    "encode_cursor",
    "iso_now",
    "public_record",
    "shard_values",
    "stored_focus",
    "table_definition",
]
