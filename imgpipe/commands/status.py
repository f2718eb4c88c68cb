"""`python -m imgpipe status`: one record, a table of recent ones, or (--dead) the local
stack's dead-letter queue."""

import json
import sys

import click

from imgpipe.commands.shared import (
    NO_API_HINT,
    api_client,
    api_option,
    api_url,
    aws_port_option,
    err,
    identity_options,
    local_sqs,
    no_local_stack,
    out,
    resolve_aws_port,
)


@click.command()
@click.argument("image_id", required=False)
@api_option
@click.option("--limit", default=20, show_default=True, help="How many recent records to list.")
@click.option("--status", "status_filter", type=click.Choice(["PENDING", "PROCESSING", "COMPLETE", "FAILED"]))
@click.option("--dead", is_flag=True, help="List the events in the local stack's dead-letter queue instead.")
@aws_port_option("With --dead: the local stack's AWS port.")
@identity_options
def status(image_id: str | None, api: str | None, limit: int, status_filter: str | None, dead: bool,
           aws_port: int | None, as_name: str | None, admin: bool, token: str | None) -> None:
    """One record as JSON, or a table of the most recent ones."""
    from imgpipe.client import NotTheApiError, RefusedError, UnreachableError
    from imgpipe.listing import status_table

    if dead:
        show_dead_letters(resolve_aws_port(aws_port))
        return
    client = api_client(api_url(api), as_name, admin, token)
    try:
        if image_id:
            out().print_json(json.dumps(client.image(image_id)))
            return
        items = client.images(limit, status_filter)
    except NotTheApiError as exc:
        err().print(f"{exc}.", style="red", highlight=False, markup=False)
        sys.exit(1)
    except RefusedError as exc:
        err().print(f"{exc.code}: {exc}", style="red", highlight=False, markup=False)
        sys.exit(1)
    except UnreachableError as exc:
        err().print(f"The API at {exc}. {NO_API_HINT}", style="red", highlight=False, markup=False)
        sys.exit(1)
    out().print(status_table(items, out().width))


def show_dead_letters(aws_port: int) -> None:
    from rich.table import Table

    from chalicelib.s3events import object_records
    from imgpipe.localstage import queue_names, stage_environment
    from imgpipe.state import peek_messages

    from botocore.exceptions import BotoCoreError, ClientError

    sqs = local_sqs(aws_port)
    try:
        url = sqs.get_queue_url(QueueName=queue_names(stage_environment())[1])["QueueUrl"]
        messages = peek_messages(sqs, url)
    except (BotoCoreError, ClientError):
        no_local_stack(aws_port, ", or it has no dead-letter queue")
    table = Table("message id", "deliveries", "object keys or body", title=f"dead-letter queue: {len(messages)}")
    for message in messages:
        try:
            keys = [r.key for r in object_records(json.loads(message["Body"]))]
            what = message["Body"][:120] if None in keys else ", ".join(map(str, keys))
        except (ValueError, AttributeError, KeyError, TypeError):
            what = message["Body"][:120]
        table.add_row(message["MessageId"], message["Attributes"].get("ApproximateReceiveCount", "?"), what)
    out().print(table)
