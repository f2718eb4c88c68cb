"""`python -m imgpipe migrate-indexes`: give every status record its shard attributes (docs/DATA-MODEL.md)."""

import sys

import click

from imgpipe.commands.shared import aws_port_option, err, out, resolve_aws_port


@click.command("migrate-indexes")
@click.option("--table", help="The status table [the stage's STATUS_TABLE].")
@click.option("--stage", default="local", show_default=True,
              help="Chalice stage whose table to use; anything but `local` is real AWS.")
@aws_port_option("With --stage local: the stack's AWS port.")
@click.option("--check", is_flag=True, help="Count the records still to migrate, change nothing.")
@click.option("--drop-legacy", is_flag=True,
              help="Also remove kind and webhook_due (once STATUS_READS=sharded: the old indexes drain).")
@click.option("--segment", default=0, show_default=True, help="This process's part of a parallel scan.")
@click.option("--segments", default=1, show_default=True, help="Parts of a parallel scan (one process each).")
def migrate_indexes(table: str | None, stage: str, aws_port: int | None, check: bool, drop_legacy: bool, segment: int,
                    segments: int) -> None:
    """Give every status record its shard attributes (docs/DATA-MODEL.md, "Migrating a table")."""
    import boto3

    from imgpipe.localstage import aws_environment, stage_environment
    from imgpipe.migrate import migrate_table

    env = stage_environment(stage)
    if stage == "local":
        env.update(aws_environment(resolve_aws_port(aws_port)))
    name = table or env.get("STATUS_TABLE", "")
    if not name or name == "set-by-make-deploy":
        raise click.UsageError("name the table with --table (the stage's STATUS_TABLE is set at deploy)")
    if not 0 <= segment < segments:
        raise click.UsageError("--segment must be from 0 to --segments - 1")
    dynamodb = boto3.resource("dynamodb", region_name=env.get("AWS_REGION"), endpoint_url=env.get("AWS_ENDPOINT_URL"),
                              aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
                              aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"))
    counts = migrate_table(dynamodb.Table(name), check, drop_legacy, segment, segments,
                           lambda c: err().print(f"{sum(c.values())} records read"))
    out().print(f"{name}: " + (", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "no records"))
    sys.exit(1 if counts["to migrate"] or counts["busy"] else 0)
