"""`python -m imgpipe upload`: files through the API, with a progress bar each, until each is final."""

import sys
from pathlib import Path

import click

from imgpipe.commands.shared import NO_API_HINT, api_client, api_option, api_url, identity_options, out


@click.command()
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

    client = api_client(api_url(api), as_name, admin, token)
    results: dict[Path, dict | RefusedError] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TextColumn("{task.fields[state]}"))
    with Progress(*columns, console=out()) as progress:

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
            out().print(f"[red]✗ {path}: refused, {result.code}: {result}[/red]")
        elif result["status"] != "COMPLETE":
            failed += 1
            error = result.get("error") or {"code": "timeout", "message": f"still {result['status']}"}
            out().print(f"[red]✗ {path}: {result['status']} {error['code']}: {error['message']}[/red]")
        else:
            out().print(f"[green]✓ {path}[/green] → {result['image_id']}")
            for r in result["renditions"]:
                out().print(f"    {r['name']:>8} {r['format']:<4} {r['width']}×{r['height']} {r['bytes']:>9} B  {r['url']}",
                             soft_wrap=True, highlight=False)
    sys.exit(1 if failed else 0)
