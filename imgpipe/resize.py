"""`python -m imgpipe resize`: the pipeline's renditions for local files, no AWS.

Same imaging code and same configuration (RESIZE_WIDTH, RENDITIONS, …) as
the handler, and the same names: `cat.jpg` gives `processed-cat.jpg` and
`renditions/cat.jpg/thumb.webp` under the output folder, as in the bucket
(`anim.gif`'s animated default is `processed-anim.gif.webp`).
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path

from chalicelib.config import Settings, load_settings
from chalicelib.errors import ImgpipeError
from chalicelib.imaging import process_image, rendition_outputs
from chalicelib.limits import check_size
from chalicelib.renditions import output_key


@dataclass(frozen=True)
class ResizeResult:
    source: str
    outputs: list[str]
    seconds: float
    error_code: str | None = None
    error: str | None = None


def local_settings() -> Settings:
    """The configured Settings; bucket and table names do not matter here."""
    env = {"INPUT_BUCKET": "-", "OUTPUT_BUCKET": "-", "STATUS_TABLE": "-", **os.environ}
    return load_settings(env)


def expand(paths: list[Path]) -> list[Path]:
    """Files as given, and every file under a folder (hidden ones skipped)."""
    files = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        else:
            files.append(path)
    return files


def resize_file(path: Path, out_dir: Path, settings: Settings) -> ResizeResult:
    """One file; a bad image is a result with a reason, never an exception."""
    started = time.perf_counter()
    try:
        data = path.read_bytes()
        check_size(len(data), settings.max_upload_bytes)
        result = process_image(data, rendition_outputs(settings), settings.max_pixels)
    except ImgpipeError as exc:
        return ResizeResult(str(path), [], time.perf_counter() - started, exc.code, exc.message)
    except OSError as exc:
        return ResizeResult(str(path), [], time.perf_counter() - started, "unreadable", str(exc))
    written = []
    for rendition in result.renditions:
        target = out_dir / output_key(path.name, rendition.name, rendition.format)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(rendition.data)
        written.append(str(target))
    return ResizeResult(str(path), written, time.perf_counter() - started)
