"""`python -m imgpipe run|upload|status|url|events|resize|reprocess|migrate-indexes|loadtest`: imgpipe's operator CLI.

`run` is what `make run` starts; the others talk to a running stack (or to
AWS) the way any client does, except `resize`, which needs no AWS at all.

Each command imports what it uses inside its body: the local stack (moto,
chalice's CLI) alone takes ~0.4 s to import, and `resize` or `status` should
not pay for it (bench/startup.py measures each command's start).
"""

import contextlib
import functools
import importlib.util
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

OUTSIDE_VIRTUALENV = ("imgpipe's CLI needs the packages of its virtualenv ({missing} is missing here): "
                      "run .venv/bin/python -m imgpipe, or activate .venv (. .venv/bin/activate); "
                      "`make run` creates it.")
try:
    import click
except ImportError:  # a Python without the project's packages: say where they are
    sys.exit(OUTSIDE_VIRTUALENV.format(missing="click"))

from imgpipe.running import STATE_DIR_VARIABLE, running_stack

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from imgpipe.client import ApiClient
    from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_API = "http://127.0.0.1:8000"  # localstack.HOST, not imported here (see above)
DEFAULT_AWS_PORT = 4566
api_option = click.option("--api", envvar="IMGPIPE_API", default=None,
                          help="Base URL of the imgpipe API (env IMGPIPE_API) [default: the running "
                               f"`make run` stack's, else {DEFAULT_API}].")


def _api(given: str | None) -> str:
    """--api / IMGPIPE_API, else the API of the stack running from the state directory."""
    return given or running_stack().get("api") or DEFAULT_API


def _aws_port(given: int | None) -> int:
    return given or running_stack().get("aws_port") or DEFAULT_AWS_PORT


Decorated = TypeVar("Decorated", bound=Callable[..., Any])


def aws_port_option(what: str) -> Callable[[Decorated], Decorated]:
    return click.option("--aws-port", type=int, default=None,
                        help=f"{what} [default: the running `make run` stack's, else {DEFAULT_AWS_PORT}].")


def identity_options(command: Decorated) -> Decorated:
    """--as NAME (the local stack's issuer), --admin, --token (a deployed stage's ID token)."""
    command = click.option("--token", envvar="IMGPIPE_TOKEN", default=None,
                           help="An ID token of the stage's user pool (env IMGPIPE_TOKEN).")(command)
    command = click.option("--admin", is_flag=True, help="With --as: in the admin group, which sees every image.")(command)
    return click.option("--as", "as_name", metavar="NAME",
                        help="Act as the user NAME, signed in by the local stack's issuer (`make run`).")(command)


def _api_client(api: str, as_name: str | None, admin: bool, token: str | None) -> "ApiClient":
    """An ApiClient acting as the caller asked for; exits with a sentence if the sign-in fails."""
    from imgpipe.client import ApiClient, RefusedError, UnreachableError

    if admin and not as_name:
        raise click.UsageError("--admin goes with --as NAME")
    client = ApiClient(api, token=token)
    if as_name:
        try:
            client.sign_in_locally(as_name, admin)
        except RefusedError as exc:
            _err().print(f"Could not sign in as {as_name}: {exc} (--as needs the local stack, "
                         "`make run`; a deployed stage takes --token).", style="red", highlight=False, markup=False)
            sys.exit(1)
        except UnreachableError as exc:
            _err().print(f"The API at {exc}. {NO_API_HINT}", style="red", highlight=False, markup=False)
            sys.exit(1)
    return client


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """imgpipe: uploaded images become web-ready renditions."""
    # A system click may run --help outside the virtualenv; the commands need the rest.
    for package in ("rich", "boto3"):
        if importlib.util.find_spec(package) is None:
            click.echo(OUTSIDE_VIRTUALENV.format(missing=package), err=True)
            sys.exit(2)


@functools.cache
def _consoles() -> "tuple[Console, Console]":
    """rich's Console for stdout and stderr, imported on first use."""
    from rich.console import Console

    return Console(), Console(stderr=True)


def _out() -> "Console":
    return _consoles()[0]


def _err() -> "Console":
    return _consoles()[1]


def _limit_malloc_arenas() -> None:
    """At most 2 glibc malloc arenas, as every deployed function has
    (MALLOC_ARENA_MAX in .chalice/config.json): each encoder thread would
    otherwise get its own arena and hold its peak. glibc reads the variable
    only at start-up (`make run` sets it); mallopt covers a direct start."""
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass  # not glibc (musl has no arenas to limit)


@cli.command()
@click.option("--port", default=8000, show_default=True, help="Port of the page and the API.")
@click.option("--aws-port", default=4566, show_default=True, help="Port of the S3/DynamoDB/SQS endpoint.")
@click.option("--state-dir", type=click.Path(path_type=Path), default=ROOT / ".local-state",
              envvar=STATE_DIR_VARIABLE, show_default=True,
              help=f"Where buckets, table and dead letters are kept between runs (env {STATE_DIR_VARIABLE}).")
@click.option("--reset", is_flag=True, help="Start from empty state (deletes --state-dir).")
@click.option("--workers", default=2, show_default=True, help="Events processed at once.")
@click.option("--max-receives", default=8, show_default=True,
              help="Failed deliveries of an event before it goes to the dead-letter queue.")
@click.option("--sweep-every", type=click.FloatRange(min=0.1), metavar="SECONDS",
              help="Run the sweeper (sweep_stuck_images) this often instead of on its schedule, 5 minutes.")
def run(port: int, aws_port: int, state_dir: Path, reset: bool, workers: int, max_receives: int,
        sweep_every: float | None) -> None:
    """The whole pipeline on 127.0.0.1, in the foreground until Ctrl-C or SIGTERM."""
    import shutil
    import signal
    import threading

    from imgpipe.localstack import LocalStack, PortTakenError

    _limit_malloc_arenas()  # before the worker's threads start
    if reset:
        shutil.rmtree(state_dir, ignore_errors=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stack = LocalStack(port, aws_port, state_dir, workers, max_receives, sweep_every=sweep_every)
    try:
        stack.start()
    except PortTakenError as exc:
        _err().print(f"[red]imgpipe: {exc}[/red]")
        sys.exit(2)
    print(stack.banner(), flush=True)
    while not stop.wait(0.5):
        pass
    print("imgpipe: stopping (finishing events in hand, saving state)…", flush=True)
    stack.stop()
    print("imgpipe: stopped", flush=True)


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@api_option
@click.option("--timeout", default=120.0, show_default=True, help="Seconds to wait for each final state.")
@identity_options
def upload(files: tuple[Path, ...], api: str | None, timeout: float, as_name: str | None, admin: bool,
           token: str | None) -> None:
    """Upload FILES through the API and wait until each is COMPLETE or FAILED."""
    from concurrent.futures import ThreadPoolExecutor

    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from imgpipe.client import RefusedError, UnreachableError

    client = _api_client(_api(api), as_name, admin, token)
    results: dict[Path, dict | RefusedError] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TextColumn("{task.fields[state]}"))
    with Progress(*columns, console=_out()) as progress:

        def one(path: Path) -> None:
            task = progress.add_task(path.name, total=path.stat().st_size, state="uploading")
            try:
                image_id = client.upload(path, lambda n: progress.advance(task, n))
                progress.update(task, completed=path.stat().st_size, state="PENDING")
                results[path] = client.wait(image_id, timeout, lambda s: progress.update(task, state=s))
            except RefusedError as exc:
                results[path] = exc
            except UnreachableError as exc:
                results[path] = RefusedError("unreachable", f"{exc}. {NO_API_HINT}")
            except OSError as exc:  # the file itself could not be read
                results[path] = RefusedError("unreadable", exc.strerror or "cannot be read")
            final = results[path]
            progress.update(task, state=final["status"] if isinstance(final, dict) else f"refused ({final.code})")

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(one, files))
    failed = 0
    for path, result in results.items():
        if isinstance(result, RefusedError):
            failed += 1
            _out().print(f"[red]✗ {path}: refused, {result.code}: {result}[/red]")
        elif result["status"] != "COMPLETE":
            failed += 1
            error = result.get("error") or {"code": "timeout", "message": f"still {result['status']}"}
            _out().print(f"[red]✗ {path}: {result['status']} {error['code']}: {error['message']}[/red]")
        else:
            _out().print(f"[green]✓ {path}[/green] → {result['image_id']}")
            for r in result["renditions"]:
                _out().print(f"    {r['name']:>8} {r['format']:<4} {r['width']}×{r['height']} {r['bytes']:>9} B  {r['url']}",
                              soft_wrap=True, highlight=False)
    sys.exit(1 if failed else 0)


@cli.command()
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
        show_dead_letters(_aws_port(aws_port))
        return
    client = _api_client(_api(api), as_name, admin, token)
    try:
        if image_id:
            _out().print_json(json.dumps(client.image(image_id)))
            return
        items = client.images(limit, status_filter)
    except NotTheApiError as exc:
        _err().print(f"{exc}.", style="red", highlight=False, markup=False)
        sys.exit(1)
    except RefusedError as exc:
        _err().print(f"{exc.code}: {exc}", style="red", highlight=False, markup=False)
        sys.exit(1)
    except UnreachableError as exc:
        _err().print(f"The API at {exc}. {NO_API_HINT}", style="red", highlight=False, markup=False)
        sys.exit(1)
    _out().print(status_table(items, _out().width))


NO_API_HINT = ("Is `make run` running? If it runs on another port, give its API with --api or IMGPIPE_API "
               "(its ready line names it).")


def no_local_stack(aws_port: int, what: str = "") -> None:
    """One line, no traceback, when nothing (or not the stack) answers on the AWS port."""
    _err().print(f"No local stack answers on 127.0.0.1:{aws_port}{what}: start it with `make run` "
                 "(or pass --aws-port).", style="red", highlight=False, markup=False)
    sys.exit(1)


@cli.command()
@click.argument("image_id")
@api_option
@click.option("--width", type=int, help="Width in CSS pixels (times --dpr in the output).")
@click.option("--height", type=int, help="Height in CSS pixels.")
@click.option("--fit", type=click.Choice(["fit", "cover", "fill"]), help="Inside the box (default), cover it, or stretch to it.")
@click.option("--gravity", type=click.Choice(["focus", "smart", "centre"]), help="Where a cover crop goes.")
@click.option("--format", "fmt", type=click.Choice(["auto", "jpeg", "png", "webp", "avif"]),
              help="auto (default): AVIF, WebP or JPEG by the browser's Accept header.")
@click.option("--quality", type=int, help="1-100; default: the format's.")
@click.option("--dpr", type=float, help="Device pixel ratio, 1-3.")
@click.option("--preset", help="A named preset of the stage instead of options.")
@click.option("--state-dir", type=click.Path(path_type=Path), default=ROOT / ".local-state", show_default=True,
              help="The local stack's state dir, which holds its variant signing secret.")
def url(image_id: str, api: str, width: int | None, height: int | None, fit: str | None, gravity: str | None,
        fmt: str | None, quality: int | None, dpr: float | None, preset: str | None, state_dir: Path) -> None:
    """A signed on-demand variant URL of IMAGE_ID, signed with the local stack's secret
    (docs/VARIANTS.md; a deployed stage hands them out at POST /images/{id}/variants)."""
    from chalicelib.errors import InvalidRequestError
    from chalicelib.uploads import check_image_id
    from chalicelib.variants import options_from_body, variant_path

    fields = {"width": width, "height": height, "fit": fit, "gravity": gravity, "format": fmt,
              "quality": quality, "dpr": dpr, "preset": preset}
    body = {name: value for name, value in fields.items() if value is not None}
    secret_file = state_dir / "variant-secret"
    try:
        check_image_id(image_id)
        segment = options_from_body(body)
    except InvalidRequestError as exc:
        _err().print(exc.message, style="red", highlight=False, markup=False)
        sys.exit(2)
    if not secret_file.exists():
        _err().print(f"No variant secret in {state_dir}: start the local stack once (make run).",
                     style="red", highlight=False, markup=False)
        sys.exit(1)
    print(api.rstrip("/") + variant_path(secret_file.read_text("utf-8").strip().encode(), image_id, segment))


def _local_sqs(aws_port: int) -> "SQSClient":
    """An SQS client of the local stack listening on `aws_port`."""
    import boto3

    from imgpipe.localstack import aws_environment

    env = aws_environment(aws_port)
    return boto3.client("sqs", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


def show_dead_letters(aws_port: int) -> None:
    from rich.table import Table

    from chalicelib.s3events import object_records
    from imgpipe.localstack import queue_names, stage_environment
    from imgpipe.state import peek_messages

    from botocore.exceptions import BotoCoreError, ClientError

    sqs = _local_sqs(aws_port)
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
    _out().print(table)


@cli.command()
@click.option("--follow", "-f", is_flag=True, help="Keep showing new events until Ctrl-C.")
@aws_port_option("The local stack's AWS port.")
def events(follow: bool, aws_port: int | None) -> None:
    """The local stack's Image Completed / Image Failed events, from its bus's queue."""
    from botocore.exceptions import BotoCoreError, ClientError

    from imgpipe.events import watch
    from imgpipe.localstack import events_queue_name, stage_environment

    aws_port = _aws_port(aws_port)
    sqs = _local_sqs(aws_port)
    shown = 0
    try:
        url = sqs.get_queue_url(QueueName=events_queue_name(stage_environment()))["QueueUrl"]
        for line in watch(sqs, url, follow):
            shown += 1
            _out().print(line, highlight=False, soft_wrap=True)
    except KeyboardInterrupt:
        return
    except (BotoCoreError, ClientError):
        no_local_stack(aws_port, ", or it has no events queue")
    if not shown:
        _out().print("no events yet")


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the renditions (same layout as the output bucket).")
@click.option("--jobs", default=os.cpu_count() or 1, show_default=True, help="Images processed at once.")
def resize(files: tuple[Path, ...], out_dir: Path, jobs: int) -> None:
    """The pipeline's renditions for local FILES (or folders), without AWS."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from imgpipe.resize import expand, local_settings, resize_file

    paths = expand(list(files))
    settings = local_settings()
    results = []
    with Progress(TextColumn("resizing"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=_out()) as progress, ProcessPoolExecutor(jobs) as pool:
        task = progress.add_task("resize", total=len(paths))
        for future in as_completed(pool.submit(resize_file, p, out_dir, settings) for p in paths):
            results.append(future.result())
            progress.advance(task)
    failures = sorted((r for r in results if r.error_code), key=lambda r: r.source)
    done = len(results) - len(failures)
    outputs = sum(len(r.outputs) for r in results)
    _out().print(f"{done} of {len(results)} images resized, {outputs} files written to {out_dir}")
    for failure in failures:
        _out().print(f"[red]✗ {failure.source}: {failure.error_code}: {failure.error}[/red]", highlight=False)
    sys.exit(1 if failures else 0)


@cli.command()
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

    from imgpipe.localstack import aws_environment, stage_environment
    from imgpipe.reprocess import chosen_keys, load_app, reprocess_key

    from botocore.exceptions import BotoCoreError, ClientError

    env = stage_environment(stage)
    local_port = _aws_port(aws_port) if stage == "local" else None
    if local_port is not None:
        env.update(aws_environment(local_port))
    app_module = load_app(env)
    try:
        keys = list(chosen_keys(app_module, prefix, set(statuses)))
    except (BotoCoreError, ClientError) as exc:
        if local_port is not None:
            no_local_stack(local_port)
        _err().print(f"Could not list what to reprocess: {exc}", style="red", highlight=False, markup=False)
        sys.exit(1)
    if dry_run:
        for key, current in keys:
            _out().print(f"{current or 'no record':>10}  {key}", highlight=False)
        _out().print(f"{len(keys)} objects would be reprocessed")
        return
    outcomes: dict[str, int] = {}
    with Progress(TextColumn("reprocessing"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  console=_out()) as progress:
        task = progress.add_task("reprocess", total=len(keys))
        for key, _ in keys:
            try:
                result = reprocess_key(app_module, key)
            except Exception as exc:  # a transient fault: report it, go on with the rest
                result = "error"
                _err().print(f"[red]{key}: {exc}[/red]")
            outcomes[result] = outcomes.get(result, 0) + 1
            progress.advance(task)
    _out().print(f"{len(keys)} objects reprocessed: "
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
        _err().print(f"[red]No backfill job was created: {exc}[/red]", highlight=False, soft_wrap=True)
        sys.exit(1)
    where = f"s3://{manifest.bucket}/{manifest.key}"
    if job is None:
        _out().print(f"Nothing to backfill: no objects under s3://{targets.input_bucket}/{prefix}",
                     highlight=False, soft_wrap=True)
        return
    listed = f" ({manifest.count} objects)" if manifest.count is not None else ""
    _out().print(f"Manifest: {where}{listed}", highlight=False, soft_wrap=True)
    _out().print(f"Batch Operations job {job} created: it invokes {targets.function_arn.rsplit(':', 1)[-1]} "
                 "once per object and reports the tasks that failed.", highlight=False, soft_wrap=True)
    _out().print("Follow it:", highlight=False, soft_wrap=True)
    for command in backfill.follow_commands(targets, job):
        _out().print(f"  {command}", highlight=False, soft_wrap=True)


@cli.command("migrate-indexes")
@click.option("--table", help="The status table [the stage's STATUS_TABLE].")
@click.option("--stage", default="local", show_default=True,
              help="Chalice stage whose table to use; anything but `local` is real AWS.")
@click.option("--aws-port", default=4566, show_default=True, help="With --stage local: the stack's AWS port.")
@click.option("--check", is_flag=True, help="Count the records still to migrate, change nothing.")
@click.option("--drop-legacy", is_flag=True,
              help="Also remove kind and webhook_due (once STATUS_READS=sharded: the old indexes drain).")
@click.option("--segment", default=0, show_default=True, help="This process's part of a parallel scan.")
@click.option("--segments", default=1, show_default=True, help="Parts of a parallel scan (one process each).")
def migrate_indexes(table: str | None, stage: str, aws_port: int, check: bool, drop_legacy: bool, segment: int,
                    segments: int) -> None:
    """Give every status record its shard attributes (docs/DATA-MODEL.md, "Migrating a table")."""
    import boto3

    from imgpipe.localstack import aws_environment, stage_environment
    from imgpipe.migrate import migrate_table

    env = stage_environment(stage)
    if stage == "local":
        env.update(aws_environment(aws_port))
    name = table or env.get("STATUS_TABLE", "")
    if not name or name == "set-by-make-deploy":
        raise click.UsageError("name the table with --table (the stage's STATUS_TABLE is set at deploy)")
    if not 0 <= segment < segments:
        raise click.UsageError("--segment must be from 0 to --segments - 1")
    dynamodb = boto3.resource("dynamodb", region_name=env.get("AWS_REGION"), endpoint_url=env.get("AWS_ENDPOINT_URL"),
                              aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
                              aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"))
    counts = migrate_table(dynamodb.Table(name), check, drop_legacy, segment, segments,
                           lambda c: _err().print(f"{sum(c.values())} records read"))
    _out().print(f"{name}: " + (", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "no records"))
    sys.exit(1 if counts["to migrate"] or counts["busy"] else 0)


@cli.command()
@click.option("--api", envvar="IMGPIPE_API", default=None,
              help="A running stack's API; without it, a fresh `imgpipe run` is started on free ports.")
@click.option("--uploads", default=200, show_default=True, help="How many uploads.")
@click.option("--clients", default=20, show_default=True, help="Concurrent clients.")
@click.option("--workers", default=2, show_default=True, help="Event workers of the stack started here.")
def loadtest(api: str | None, uploads: int, clients: int, workers: int) -> None:
    """Many clients at once, with duplicates and hostile files mixed in; every
    upload must end in its right final state. Prints throughput and p50/p95."""
    from rich.table import Table

    from imgpipe.loadtest import make_uploads, run_load, spawned_stack

    batch = make_uploads(uploads)
    with contextlib.nullcontext() if api else spawned_stack(workers) as stack:
        target = api or (stack.api if stack is not None else "")  # no --api: the stack spawned here
        _out().print(f"{uploads} uploads from {clients} clients to {target} ...")
        report = run_load(target, batch, clients)
    table = Table("uploads", "clients", "dups", "hostile", "s", "img/s", "p50 s", "p95 s", "problems",
                  caption="p50/p95: from the end of an upload to its final state")
    table.add_row(*(str(report[k]) for k in ("uploads", "clients", "duplicates", "hostile", "seconds",
                                             "images_per_second", "p50_seconds", "p95_seconds")),
                  str(len(report["problems"])))
    _out().print(table)
    for name, problems in report["problems"].items():
        _err().print(f"[red]{name}: {'; '.join(problems)}[/red]")
    sys.exit(1 if report["problems"] else 0)


if __name__ == "__main__":
    cli()
