"""A table's global secondary indexes, changed one at a time, and the stage's legacy indexes.

CloudFormation adds or deletes at most one GSI per table in a stack update ("Cannot perform
more than one GSI creation or deletion in a single update"), and DynamoDB one per UpdateTable
call. A release that adds several (the sharded indexes) cannot reach an existing stack in one
update: `index_steps` plans the intermediate templates, each one GSI from the last, that
deploy/index_steps.py deploys in turn. Pure: templates in, templates out, no AWS calls.

The steps start from the deployed template and change nothing but the table's indexes and
their attribute definitions (AWS's advice: no other change beside an index change), creates
first and deletes last, so code still reading an old index keeps it until the new ones exist.
"""

import json
from dataclasses import dataclass

from chalicelib.status.schema import DRAINING_INDEXES

TABLE_TYPE = "AWS::DynamoDB::Table"
# The unsharded indexes a table keeps while it migrates (docs/DATA-MODEL.md#migrating-a-table).
LEGACY_INDEX_NAMES = tuple(index["IndexName"] for index in DRAINING_INDEXES)


def canonical_index(index: dict) -> str:
    """What makes two definitions of an index the same one: its name, keys and projection
    (throughput and contributor insights change in place, without a new index)."""
    projection = dict(index.get("Projection", {}))
    if "NonKeyAttributes" in projection:
        projection["NonKeyAttributes"] = sorted(projection["NonKeyAttributes"])
    return json.dumps({"IndexName": index["IndexName"], "KeySchema": index["KeySchema"],
                       "Projection": projection}, sort_keys=True)


def table_indexes(template: dict) -> dict[str, dict[str, dict]]:
    """Every table of a template: logical id -> index name -> its definition."""
    tables = {}
    for logical, resource in template.get("Resources", {}).items():
        if resource.get("Type") == TABLE_TYPE:
            indexes = resource.get("Properties", {}).get("GlobalSecondaryIndexes", [])
            tables[logical] = {index["IndexName"]: index for index in indexes}
    return tables


def index_changes(old: dict[str, dict], new: dict[str, dict]) -> tuple[list[str], list[str]]:
    """(created, deleted) index names from `old` to `new`; a redefined index is both."""
    changed = [name for name in old.keys() & new.keys() if canonical_index(old[name]) != canonical_index(new[name])]
    created = sorted(set(new) - set(old)) + sorted(changed)
    deleted = sorted(set(old) - set(new)) + sorted(changed)
    return created, deleted


@dataclass
class Step:
    """One stack update: the table `table` with one index created or deleted."""

    table: str
    action: str  # "create" or "delete"
    index: str
    template: dict

    def text(self) -> str:
        return f"{'add' if self.action == 'create' else 'drop'} index {self.index} of {self.table}"


def _attribute_definitions(properties: dict, indexes: list[dict], known: dict[str, str]) -> list[dict]:
    """Exactly the attributes the table's keys and `indexes` use (CloudFormation and DynamoDB
    refuse a definition no key uses)."""
    used = {key["AttributeName"] for key in properties.get("KeySchema", [])}
    used |= {key["AttributeName"] for index in indexes for key in index["KeySchema"]}
    return [{"AttributeName": name, "AttributeType": known[name]} for name in sorted(used)]


def index_steps(deployed: dict, target: dict) -> list[Step]:
    """The updates that take each table of `deployed` to its indexes in `target`, one index each,
    when there is more than one change; none when one update can do it (the target itself)."""
    steps: list[Step] = []
    current = json.loads(json.dumps(deployed))
    wanted = table_indexes(target)
    for table, indexes in table_indexes(deployed).items():
        if table not in wanted:
            continue  # a table the target drops or renames is not an index change
        created, deleted = index_changes(indexes, wanted[table])
        if len(created) + len(deleted) <= 1:
            continue
        properties = current["Resources"][table]["Properties"]
        known = {d["AttributeName"]: d["AttributeType"] for t in (deployed, target)
                 for d in t["Resources"][table]["Properties"].get("AttributeDefinitions", [])}
        now = dict(indexes)
        for action, name in [("delete", n) for n in deleted if n in created] + \
                [("create", n) for n in created] + [("delete", n) for n in deleted if n not in created]:
            if action == "delete":
                del now[name]
            else:
                now[name] = wanted[table][name]
            properties["GlobalSecondaryIndexes"] = list(now.values())
            properties["AttributeDefinitions"] = _attribute_definitions(properties, list(now.values()), known)
            steps.append(Step(table, action, name, json.loads(json.dumps(current))))
    return steps


def without_legacy_indexes(template: dict) -> dict:
    """`template` with the unsharded indexes (by-created, by-webhook) and their attributes gone:
    the migration's last step, once every reader is on the sharded ones."""
    template = json.loads(json.dumps(template))
    for table in table_indexes(template):
        properties = template["Resources"][table]["Properties"]
        kept = [i for i in properties.get("GlobalSecondaryIndexes", []) if i["IndexName"] not in LEGACY_INDEX_NAMES]
        known = {d["AttributeName"]: d["AttributeType"] for d in properties.get("AttributeDefinitions", [])}
        properties["GlobalSecondaryIndexes"] = kept
        properties["AttributeDefinitions"] = _attribute_definitions(properties, kept, known)
    return template


def stage_template(template: dict, settings: dict) -> dict:
    """infra/resources.json as a stage deploys it: without the legacy indexes when its
    `legacy_indexes` (infra/stages.json) is false; kept by default."""
    return template if settings.get("legacy_indexes", True) else without_legacy_indexes(template)


def legacy_reads_problem(stage: str, settings: dict, environment: dict) -> str | None:
    """Why dropping the legacy indexes would break the stage: it still reads them."""
    if settings.get("legacy_indexes", True):
        return None
    if environment.get("STATUS_READS", "").strip().lower() != "legacy":
        return None
    return (f"Stage {stage} reads the unsharded indexes (STATUS_READS=legacy in .chalice/config.json) "
            "and infra/stages.json drops them (legacy_indexes false): lists and the sweeper would fail. "
            "Finish the migration first (migrate-indexes --check, then STATUS_READS=sharded and a deploy), "
            "or set legacy_indexes back to true.")
