"""`python -m imgpipe reprocess`: the handler again for objects already in the input bucket,
here one by one, or on AWS as an S3 Batch Operations job (--batch)."""

import sys

import click

from imgpipe.commands.shared import aws_port_option, err, no_local_stack, out, resolve_aws_port


@click.command()
@click.option("--prefix", default="", help="Only input keys that start with this.")
@click.option("--status", "statuses", multiple=True,
              type=click.Choice(["PENDING", "PROCESSING", "COMPLETE", "FAILED"]),
              help="Only images in this state (repeatable); default: every object.")
@click.option("--stage", default="local", show_default=True,
              help="Chalice stage whose buckets and table to use; anything but `local` is real AWS.")
@aws_port_option("With --stage local: the stack's AWS port.")
@click.option("--dry-run", is_flag=True, help="List what would be reprocessed, change nothing.")
@click.option("--batch", is_flag=True,
              help="On AWS: an S3 Batch Operations job invokes the stage's backfill_image per object.")
@click.option("--inventory", metavar="S3_URL",
              help="With --batch: an S3 Inventory report's manifest.json instead of listing the bucket.")
@click.option("--stack", help="With --batch: the stack whose outputs to use [imgpipe-STAGE-resources].")
@click.option("--terraform-dir", type=click.Path(file_okay=False, exists=True),
              help="With --batch: read `terraform output -json` here instead of a stack (path 3).")
def reprocess(prefix: str, statuses: tuple[str, ...], stage: str, aws_port: int | None, dry_run: bool, batch: bool,
              inventory: str | None, stack: str | None, terraform_dir: str | None) -> None:
    """Run the handler again for objects already in the input bucket (here, or with --batch on AWS)."""
    if batch or inventory or stack or terraform_dir:
        if not batch:
            raise click.UsageError("--inventory, --stack and --terraform-dir go with --batch")
        if stage == "local" or statuses or dry_run:
            raise click.UsageError("--batch runs on AWS (not --stage local), for every listed object "
                                   "(no --status, no --dry-run)")
        reprocess_batch(stage, prefix, inventory, stack, terraform_dir)
        return
    from rich.progress import BarColumn, Progress, TextColumn

    from imgpipe.localstage import aws_environment, stage_environment
    from imgpipe.reprocess import chosen_keys, load_app, reprocess_key

    from botocore.exceptions import BotoCoreError, ClientError

    env = stage_environment(stage)
    local_port = resolve_aws_port(aws_port) if stage == "local" else None
    if local_port is not None:
        env.update(aws_environment(local_port))
    app_module = load_app(env)
    try:
        keys = list(chosen_keys(app_module, prefix, set(statuses)))
    except (BotoCoreError, ClientError) as exc:
        if local_port is not None:
            no_local_stack(local_port)
        err().print(f"Could not list what to reprocess: {exc}", style="red", highlight=False, markup=False)
        sys.exit(1)
    if dry_run:
        for key, current in keys:
            out().print(f"{current or 'no record':>10}  {key}", highlight=False)
        out().print(f"{len(keys)} objects would be reprocessed")
        return
    outcomes: dict[str, int] = {}
    with Progress(TextColumn("reprocessing"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  console=out()) as progress:
        task = progress.add_task("reprocess", total=len(keys))
        for key, _ in keys:
            try:
                result = reprocess_key(app_module, key)
            except Exception as exc:  # a transient fault: report it, go on with the rest
                result = "error"
                err().print(f"[red]{key}: {exc}[/red]")
            outcomes[result] = outcomes.get(result, 0) + 1
            progress.advance(task)
    out().print(f"{len(keys)} objects reprocessed: "
                  + (", ".join(f"{n} {s}" for s, n in sorted(outcomes.items())) or "nothing matched"))
    sys.exit(0 if set(outcomes) <= {"COMPLETE", "FAILED"} else 1)


def reprocess_batch(stage: str, prefix: str, inventory: str | None, stack: str | None,
                    terraform_dir: str | None) -> None:
    """`reprocess --batch`: the manifest, the S3 Batch Operations job, and how to follow it.
    Paths and commands are printed unwrapped, to be copied."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from imgpipe import backfill

    try:
        if terraform_dir:
            targets = backfill.targets_from_terraform(terraform_dir)
        else:
            stack = stack or f"imgpipe-{stage}-resources"  # path 1's; path 2 names its own
            targets = backfill.targets_from_stack(boto3.client("cloudformation"), stack)
        s3 = boto3.client("s3", region_name=targets.region)
        s3control = boto3.client("s3control", region_name=targets.region)
        job, manifest = backfill.start_backfill(s3, s3control, targets, prefix, inventory)
    except (ClientError, BotoCoreError, ValueError) as exc:
        err().print(f"[red]No backfill job was created: {exc}[/red]", highlight=False, soft_wrap=True)
        sys.exit(1)
    where = f"s3://{manifest.bucket}/{manifest.key}"
    if job is None:
        out().print(f"Nothing to backfill: no objects under s3://{targets.input_bucket}/{prefix}",
                    highlight=False, soft_wrap=True)
        return
    listed = f" ({manifest.count} objects)" if manifest.count is not None else ""
    out().print(f"Manifest: {where}{listed}", highlight=False, soft_wrap=True)
    out().print(f"Batch Operations job {job} created: it invokes {targets.function_arn.rsplit(':', 1)[-1]} "
                "once per object and reports the tasks that failed.", highlight=False, soft_wrap=True)
    out().print("Follow it:", highlight=False, soft_wrap=True)
    for command in backfill.follow_commands(targets, job):
        out().print(f"  {command}", highlight=False, soft_wrap=True)
