"""Rendition specs: parse them from configuration and name their output keys.

A spec is a name, a box and a mode: `fit` scales the image to fit inside the
box (aspect kept), `cover` fills the box and centre-crops the overflow. Neither
ever upscales. Keys are deterministic, so a retry overwrites instead of
duplicating, and a client can compute them from the source key alone.
"""

import re
from dataclasses import dataclass

from chalicelib.errors import ConfigError

FIT = "fit"
COVER = "cover"
FILL = "fill"  # the box exactly, aspect not kept: on-demand variants only (variants.py)
DEFAULT_NAME = "default"

# Output format names accepted in OUTPUT_FORMATS. `auto` is JPEG, or PNG when
# the image has real transparency.
OUTPUT_FORMATS = ("auto", "jpeg", "png", "webp", "avif")
EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp", "avif": "avif"}
CONTENT_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "avif": "image/avif",
}

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_SPEC = re.compile(r"^(?P<name>[^:]+):(?P<w>[0-9]+)x(?P<h>[0-9]+)(?::(?P<mode>\w+)(?P<centred>:center)?)?$")
_MAX_EDGE = 8192


@dataclass(frozen=True)
class RenditionSpec:
    name: str
    width: int
    height: int
    mode: str = FIT
    # A cover crop goes to the image's focal point (the uploader's, or the most
    # interesting part); `cover:center` keeps the plain centre crop.
    centred: bool = False


def parse_renditions(text: str) -> tuple[RenditionSpec, ...]:
    """Parse `thumb:320x320:cover,large:2048x2048` (mode defaults to fit;
    `cover:center` is a cover crop that ignores the focal point)."""
    specs: list[RenditionSpec] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = _SPEC.match(part)
        if not match:
            raise ConfigError(f"RENDITIONS: {part!r} is not NAME:WIDTHxHEIGHT[:fit|cover|cover:center]")
        name, mode = match["name"], match["mode"] or FIT
        width, height = int(match["w"]), int(match["h"])
        if not _NAME.match(name) or name == DEFAULT_NAME:
            raise ConfigError(f"RENDITIONS: bad rendition name {name!r}")
        if mode not in (FIT, COVER) or (match["centred"] and mode != COVER):
            raise ConfigError(f"RENDITIONS: mode of {name!r} must be fit, cover or cover:center")
        if not (1 <= width <= _MAX_EDGE and 1 <= height <= _MAX_EDGE):
            raise ConfigError(f"RENDITIONS: {name!r} box must be 1..{_MAX_EDGE} px")
        if any(s.name == name for s in specs):
            raise ConfigError(f"RENDITIONS: {name!r} appears twice")
        specs.append(RenditionSpec(name, width, height, mode, bool(match["centred"])))
    return tuple(specs)


def parse_output_formats(text: str) -> tuple[str, ...]:
    """Parse `auto,webp`; order is kept, duplicates are refused."""
    formats = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    unknown = [f for f in formats if f not in OUTPUT_FORMATS]
    if unknown or not formats or len(set(formats)) != len(formats):
        raise ConfigError(
            f"OUTPUT_FORMATS: {text!r}; use a comma list of {', '.join(OUTPUT_FORMATS)}"
        )
    return formats


# The format each image extension says a file holds; `default` keeps the source's
# key when its format is the one the extension names.
_EXTENSION_FORMATS = {
    "jpg": "jpeg", "jpeg": "jpeg", "jpe": "jpeg", "jfif": "jpeg",
    "png": "png", "apng": "png", "gif": "gif", "webp": "webp", "avif": "avif",
    "bmp": "bmp", "dib": "bmp", "tif": "tiff", "tiff": "tiff", "heic": "heif", "heif": "heif",
}


def output_key(source_key: str, name: str, fmt: str) -> str:
    """Where rendition `name` in format `fmt` of `source_key` is written."""
    if name == DEFAULT_NAME:
        return default_rendition_key(source_key, fmt)
    return rendition_key(source_key, name, fmt)


def default_rendition_key(source_key: str, fmt: str | None = None) -> str:
    """`image.jpg` → `processed-image.jpg`, the layout existing users script against.

    A default written in another format than the source's extension names gets that
    format's extension after the whole source key (`anim.gif` as WebP →
    `processed-anim.gif.webp`): the key says what it holds, and `photo.heic` and
    `photo.jpg` side by side still have two keys (deleting one never takes the
    other's). A key without an image extension says nothing, and is kept."""
    key = f"processed-{source_key}"
    stem, dot, extension = source_key.rpartition("/")[2].rpartition(".")
    said = _EXTENSION_FORMATS.get(extension.lower()) if dot and stem else None
    if fmt is None or said is None or said == fmt:
        return key
    return f"{key}.{EXTENSIONS[fmt]}"


def rendition_key(source_key: str, name: str, fmt: str) -> str:
    """`uploads/ab12/cat.png`, `thumb`, `webp` → `renditions/uploads/ab12/cat.png/thumb.webp`."""
    return f"renditions/{source_key}/{name}.{EXTENSIONS[fmt]}"
