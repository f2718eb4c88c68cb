"""Encoders with the settings chosen for the web, and which format `auto`
and `source` mean for a picture.

Each setting was measured with bench/ (docs/PERFORMANCE.md): baseline JPEG
q82 (optimize and progressive cost more time than the bytes they save), WebP
q80 at method 4 (libvips' default effort, so bytes compare like for like),
AVIF q60 at Pillow's default speed. No metadata is ever written.
"""

import io

from PIL import Image, features

AVIF_SUPPORTED = features.check("avif")
if AVIF_SUPPORTED:
    from PIL import AvifImagePlugin  # noqa: F401  (registers the AVIF plugin)

# The `source` output format keeps the web formats as they are and turns the
# rest into `auto` (JPEG, or PNG when there is transparency).
_SOURCE_OUTPUT = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp"}
_JPEG_QUALITY = 82
WEBP_QUALITY = 80
WEBP_METHOD = 4
_AVIF_QUALITY = 60


def resolve_format(fmt: str, source_format: str, image: Image.Image) -> str:
    """The concrete format of `auto` and `source` for this picture."""
    if fmt == "source":
        fmt = _SOURCE_OUTPUT.get(source_format, "auto")
    if fmt == "auto":
        fmt = "png" if image.mode == "RGBA" else "jpeg"
    return fmt


def flatten_on_white(image: Image.Image) -> Image.Image:
    """RGBA → RGB as a browser shows it on a white page; other modes unchanged."""
    if image.mode != "RGBA":
        return image
    flat = Image.new("RGB", image.size, (255, 255, 255))
    flat.paste(image, mask=image.getchannel("A"))
    return flat


def encode(image: Image.Image, fmt: str) -> bytes:
    """Encode with settings chosen for the web; no metadata is written."""
    buffer = io.BytesIO()
    if fmt == "jpeg":
        flatten_on_white(image).save(buffer, "JPEG", quality=_JPEG_QUALITY)  # JPEG has no alpha
    elif fmt == "png":
        image.save(buffer, "PNG", compress_level=6)
    elif fmt == "webp":
        image = image.convert("RGB") if image.mode == "L" else image
        image.save(buffer, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
    elif fmt == "avif":  # config.load_settings refuses avif where Pillow lacks it
        image = image.convert("RGB") if image.mode == "L" else image
        image.save(buffer, "AVIF", quality=_AVIF_QUALITY)
    else:
        raise ValueError(f"unknown output format {fmt!r}")
    return buffer.getvalue()
