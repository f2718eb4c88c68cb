"""bench/scale.py's calls per image come from the code: recorded through the pipeline in moto,
they must equal bench/results/scale-calls.json (`python -m bench.scale --update-calls`)."""

import json

from bench.scale import CALLS_TABLE, calls_table, polls
from bench.scalecalls import index_writes, record
from chalicelib.status.schema import SHARDED_INDEXES, table_definition


def test_the_models_calls_per_image_are_the_pipelines():
    recorded = calls_table(record(2))
    committed = json.loads(CALLS_TABLE.read_text())
    assert recorded == committed, (
        "the pipeline's AWS calls per image changed: check bench/scale.py's model, then run "
        "`python -m bench.scale --update-calls` and commit bench/results/scale-calls.json")


def test_index_writes_follow_dynamodbs_rules():
    keys_only = next(i for i in SHARDED_INDEXES if i["IndexName"] == "by-created-sharded")
    everything = next(i for i in table_definition("x")["GlobalSecondaryIndexes"] if i["IndexName"] == "by-created")
    item = {"image_id": {"S": "a" * 32}, "kind": {"S": "image"}, "kind_shard": {"S": "image#03"},
            "created_at": {"S": "2026-01-01T00:00:00.000Z"}, "renditions": {"S": "x" * 1500}}
    changed = {**item, "renditions": {"S": "y" * 1500}}
    assert index_writes(keys_only, None, item) == [("image#03", 1)]  # appears: one small entry
    assert index_writes(keys_only, item, changed) == []  # no key or projected attribute changed
    assert index_writes(everything, item, changed) == [("image", 2)]  # ALL: rewritten, 2 KB
    assert index_writes(everything, item, {k: v for k, v in item.items() if k != "kind"}) == [("image", 2)]
    moved = {**item, "kind_shard": {"S": "image#04"}}
    assert index_writes(keys_only, item, moved) == [("image#03", 1), ("image#04", 1)]


def test_polls_are_imgpipe_clients():
    assert polls(0) == 1 and polls(0.3) == 2 and polls(1.08) == 4
