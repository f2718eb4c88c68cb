"""`python -m imgpipe events`: the local stack's Image Completed / Image Failed events, from its bus's queue."""

import click

from imgpipe.commands.shared import aws_port_option, local_sqs, no_local_stack, out, resolve_aws_port


@click.command()
@click.option("--follow", "-f", is_flag=True, help="Keep showing new events until Ctrl-C.")
@aws_port_option("The local stack's AWS port.")
def events(follow: bool, aws_port: int | None) -> None:
    """The local stack's Image Completed / Image Failed events, from its bus's queue."""
    from botocore.exceptions import BotoCoreError, ClientError

    from imgpipe.events import watch
    from imgpipe.localstage import events_queue_name, stage_environment

    aws_port = resolve_aws_port(aws_port)
    sqs = local_sqs(aws_port)
    shown = 0
    try:
        url = sqs.get_queue_url(QueueName=events_queue_name(stage_environment()))["QueueUrl"]
        for line in watch(sqs, url, follow):
            shown += 1
            out().print(line, highlight=False, soft_wrap=True)
    except KeyboardInterrupt:
        return
    except (BotoCoreError, ClientError):
        no_local_stack(aws_port, ", or it has no events queue")
    if not shown:
        out().print("no events yet")
