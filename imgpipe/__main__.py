"""`python -m imgpipe run|upload|status|url|events|resize|reprocess|migrate-indexes|loadtest`: imgpipe's operator CLI.

This module holds the click group and the short commands (`run`, `resize`, `loadtest`); the
longer ones live in imgpipe/commands/, one module each. `run` is what `make run` starts; the
others talk to a running stack (or to AWS) the way any client does, except `resize`, which
needs no AWS at all.

Each command imports what it uses inside its body: the local stack (moto,
chalice's CLI) alone takes ~0.4 s to import, and `resize` or `status` should
not pay for it (bench/startup.py measures each command's start).
"""

import contextlib
import importlib.util
import os
import sys
from pathlib import Path

OUTSIDE_VIRTUALENV = ("imgpipe's CLI needs the packages of its virtualenv ({missing} is missing here): "
                      "run .venv/bin/python -m imgpipe, or activate .venv (. .venv/bin/activate); "
                      "`make run` creates it.")
try:
    import click
except ImportError:  # a Python without the project's packages: say where they are
    sys.exit(OUTSIDE_VIRTUALENV.format(missing="click"))

from imgpipe.commands.events import events
from imgpipe.commands.migrate import migrate_indexes
from imgpipe.commands.reprocess import reprocess
from imgpipe.commands.shared import ROOT, err, out
from imgpipe.commands.status import status
from imgpipe.commands.upload import upload
from imgpipe.commands.url import url
from imgpipe.running import STATE_DIR_VARIABLE


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """imgpipe: uploaded images become web-ready renditions."""
    # A system click may run --help outside the virtualenv; the commands need the rest.
    for package in ("rich", "boto3"):
        if importlib.util.find_spec(package) is None:
            click.echo(OUTSIDE_VIRTUALENV.format(missing=package), err=True)
            sys.exit(2)


for command in (upload, status, url, events, reprocess, migrate_indexes):
    cli.add_command(command)


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
        err().print(f"[red]imgpipe: {exc}[/red]")
        sys.exit(2)
    print(stack.banner(), flush=True)
    while not stop.wait(0.5):
        pass
    print("imgpipe: stopping (finishing events in hand, saving state)…", flush=True)
    stack.stop()
    print("imgpipe: stopped", flush=True)


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
                  TimeElapsedColumn(), console=out()) as progress, ProcessPoolExecutor(jobs) as pool:
        task = progress.add_task("resize", total=len(paths))
        for future in as_completed(pool.submit(resize_file, p, out_dir, settings) for p in paths):
            results.append(future.result())
            progress.advance(task)
    failures = sorted((r for r in results if r.error_code), key=lambda r: r.source)
    done = len(results) - len(failures)
    outputs = sum(len(r.outputs) for r in results)
    out().print(f"{done} of {len(results)} images resized, {outputs} files written to {out_dir}")
    for failure in failures:
        out().print(f"[red]✗ {failure.source}: {failure.error_code}: {failure.error}[/red]", highlight=False)
    sys.exit(1 if failures else 0)


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
        out().print(f"{uploads} uploads from {clients} clients to {target} ...")
        report = run_load(target, batch, clients)
    table = Table("uploads", "clients", "dups", "hostile", "s", "img/s", "p50 s", "p95 s", "problems",
                  caption="p50/p95: from the end of an upload to its final state")
    table.add_row(*(str(report[k]) for k in ("uploads", "clients", "duplicates", "hostile", "seconds",
                                             "images_per_second", "p50_seconds", "p95_seconds")),
                  str(len(report["problems"])))
    out().print(table)
    for name, problems in report["problems"].items():
        err().print(f"[red]{name}: {'; '.join(problems)}[/red]")
    sys.exit(1 if report["problems"] else 0)


if __name__ == "__main__":
    cli()
