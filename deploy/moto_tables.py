"""What moto's CloudFormation lacks for a DynamoDB table: a stack update that changes it in place.

moto 5 has no update for AWS::DynamoDB::Table: a stack update that changes the table loses the
resource (the stack's outputs and DescribeStackResource then fail) and leaves its indexes as
they were. `install()` gives moto the update CloudFormation makes: the indexes created or
deleted with one UpdateTable, refused, as CloudFormation refuses it, when that is more than one
(deploy/rules.py). The rehearsal's moto server runs with it (`python -m deploy.moto_tables`
starts one), and tests install it in process.
"""

import sys
from typing import Any

from deploy.indexes import index_changes
from deploy.rules import update_table_problem


def update_table_in_place(original_resource: Any, new_resource_name: str, cloudformation_json: dict,
                          account_id: str, region_name: str) -> Any:
    """moto's update of an AWS::DynamoDB::Table: its index changes, the table kept."""
    from moto.dynamodb.exceptions import MockValidationException
    from moto.dynamodb.models import dynamodb_backends

    properties = cloudformation_json["Properties"]
    old = {i.name: {"IndexName": i.name, "KeySchema": i.schema, "Projection": i.projection}
           for i in original_resource.global_indexes}
    new = {i["IndexName"]: i for i in properties.get("GlobalSecondaryIndexes", [])}
    created, deleted = index_changes(old, new)
    updates = [{"Delete": {"IndexName": name}} for name in deleted] + [{"Create": new[name]} for name in created]
    problem = update_table_problem(original_resource.name, updates)
    if problem:  # CloudFormation: "Cannot perform more than one GSI creation or deletion in a single update"
        raise MockValidationException(problem)
    if updates:
        dynamodb_backends[account_id][region_name].update_table(
            name=original_resource.name, attr_definitions=properties.get("AttributeDefinitions", []),
            global_index=updates, throughput={}, billing_mode="", stream_spec={},
            deletion_protection_enabled=None, warm_throughput=None)
    return original_resource


def install() -> None:
    """Give moto's Table the update above (idempotent)."""
    from moto.dynamodb.models.table import Table

    Table.update_from_cloudformation_json = classmethod(  # type: ignore[method-assign, assignment]
        lambda cls, **kwargs: update_table_in_place(**kwargs))


def main() -> None:
    """moto server (its own arguments), with the table update installed."""
    install()
    from moto.server import main as moto_main

    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
