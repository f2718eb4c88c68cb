"""`python -m imgpipe url`: a signed on-demand variant URL, signed with the local stack's secret."""

import sys
from pathlib import Path

import click

from imgpipe.commands.shared import ROOT, api_option, err


@click.command()
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
        err().print(exc.message, style="red", highlight=False, markup=False)
        sys.exit(2)
    if not secret_file.exists():
        err().print(f"No variant secret in {state_dir}: start the local stack once (make run).",
                    style="red", highlight=False, markup=False)
        sys.exit(1)
    print(api.rstrip("/") + variant_path(secret_file.read_text("utf-8").strip().encode(), image_id, segment))
