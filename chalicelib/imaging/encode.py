"""Pictures to bytes: the conversion to sRGB, the encoder of each output format
with the settings chosen for the web, which format `auto` and `source` mean
for a picture, and animated WebP (every animated rendition no larger than the
source file).

Each setting was measured with bench/ (docs/PERFORMANCE.md): baseline JPEG
q82 (optimize and progressive cost more time than the bytes they save), WebP
q80 at method 4 (libvips' default effort, so bytes compare like for like),
AVIF q60 at Pillow's default speed. No metadata is ever written.

Animations, measured on the animated samples of the shared corpus
(docs/FORMATS.md): a lossy WebP of frames kept at the source's size can be
2.7× a flat-colour GIF, while lossless WebP of the same frames is smaller than
the GIF; resized frames are no longer flat, and lossy wins there. So frames at
the source's size are tried lossless, then lossy (a lossy animated WebP source
is smaller than any lossless copy of it); resized frames lossy. Only when
every try is larger than the source does a rendition become its first frame.
"""

import io

from PIL import Image

from chalicelib.codecs import AVIF_SUPPORTED

if AVIF_SUPPORTED:
    from PIL import AvifImagePlugin  # noqa: F401  (registers the AVIF plugin)

# The `source` output format keeps the web formats as they are and turns the
# rest into `auto` (JPEG, or PNG when there is transparency).
_SOURCE_OUTPUT = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp"}
_JPEG_QUALITY = 82
WEBP_QUALITY = 80
WEBP_METHOD = 4
_AVIF_QUALITY = 60
# Animation effort, measured on the corpus GIFs: lossy method 2 is within 2% of
# method 4's bytes at 55% of its CPU (an animation is many pictures); lossless
# method 1 within 2% of method 4's at a third of its CPU.
_LOSSY = {"quality": WEBP_QUALITY, "method": 2}
_LOSSLESS = {"lossless": True, "quality": 50, "method": 1}


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


def encode(image: Image.Image, fmt: str, quality: int | None = None) -> bytes:
    """Encode with settings chosen for the web; no metadata is written. `quality`
    (an on-demand variant's `q`) replaces the format's default; PNG ignores it."""
    buffer = io.BytesIO()
    if fmt == "jpeg":
        flatten_on_white(image).save(buffer, "JPEG", quality=quality or _JPEG_QUALITY)  # JPEG has no alpha
    elif fmt == "png":
        image.save(buffer, "PNG", compress_level=6)
    elif fmt == "webp":
        image = image.convert("RGB") if image.mode == "L" else image
        image.save(buffer, "WEBP", quality=quality or WEBP_QUALITY, method=WEBP_METHOD)
    elif fmt == "avif":  # config.load_settings refuses avif where Pillow lacks it
        image = image.convert("RGB") if image.mode == "L" else image
        image.save(buffer, "AVIF", quality=quality or _AVIF_QUALITY)
    else:
        raise ValueError(f"unknown output format {fmt!r}")
    return buffer.getvalue()


def encode_animated(
    frames: list[Image.Image], durations: list[int], loop: int, limit: int, resized: bool
) -> tuple[bytes, int]:
    """An animated WebP of at most `limit` bytes (the source file's size), and
    its frame count; or, when neither lossless (source size only) nor lossy q80
    fits, the first frame alone as a still WebP, and 1."""
    attempts = [_LOSSY] if resized else [_LOSSLESS, _LOSSY]
    for options in attempts:
        buffer = io.BytesIO()
        frames[0].save(buffer, "WEBP", save_all=True, append_images=frames[1:], duration=durations,
                       loop=loop, **options)
        if buffer.tell() <= limit:
            return buffer.getvalue(), len(frames)
    return encode(frames[0], "webp"), 1
