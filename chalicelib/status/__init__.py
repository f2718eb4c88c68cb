"""DynamoDB status records: one item per image, moved forward by conditional writes.

The package's parts: schema.py (the table and the status values), records.py (what a
record looks like outside DynamoDB, cursors), store.py (DynamoStatusStore and the claim
lifecycle), covers.py, queries.py and outbox.py (what the store also does), writes.py
(the conditional write they all use). Import the names below from here.
"""

from chalicelib.clock import iso_now  # here too for importers written before chalicelib.clock
from chalicelib.status.outbox import Delivery
from chalicelib.status.records import (
    CURSOR_PATTERN,
    Claim,
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
    STATUSES,
    create_table,
    table_definition,
)
from chalicelib.status.store import DynamoStatusStore

__all__ = [
    "COMPLETE", "CURSOR_PATTERN", "Claim", "DELETED", "DUE", "Delivery", "DynamoStatusStore", "FAILED",
    "PENDING", "PROCESSING", "STATUSES", "create_table", "decode_cursor", "encode_cursor", "iso_now",
    "public_record", "stored_focus", "table_definition",
]
