"""LANCZOS resampling with Pillow's semantics, vectorised where it can be.

`lanczos(image, size, box)` returns what `image.resize(size, LANCZOS, box=box)`
returns: that size, the same mode and info, alpha resampled premultiplied,
`box` a float source region whose surroundings the filter still reads. For
8-bit L, LA, RGB, RGBA, RGBa, CMYK and 16-bit I;16 the work is done by
fast_image_resize (Rust; AVX2/SSE4.1/NEON) through cykooz-resizer, 7-10x
faster and within a fraction of a level of Pillow; every other mode or case,
and a platform without its wheel, goes to Pillow itself.
"""

import logging
import platform

from PIL import Image

try:
    from cykooz_resizer import (
        CropBox,
        FilterType,
        ImageData,
        PixelType,
        ResizeAlg,
        ResizeOptions,
        Resizer,
    )
except ImportError:  # no wheel here (PyPI has none for Linux aarch64): Pillow does all of it
    Resizer = None
    # Said once per cold start, so an arm64 deploy is not silently slow (the
    # stages deploy x86_64: Chalice has no architecture setting).
    logging.getLogger(__name__).warning(
        "cykooz-resizer is not installed for %s: every resize uses Pillow's LANCZOS, 7-11 times slower.",
        platform.machine())

Size = tuple[int, int]
Box = tuple[float, float, float, float]

# Resized in place in Pillow's own buffers. For RGBA, cykooz multiplies by
# alpha before and divides after, as Pillow does through RGBa; RGBa itself and
# CMYK are resized channel by channel, as Pillow does.
_IN_PLACE = frozenset({"L", "RGB", "RGBA", "RGBa", "CMYK"})
# Through a copy of the bytes: resize_pil refuses these modes. fast_image_resize
# premultiplies two-channel U8 by its second channel (LA's alpha) by default.
# I;16 is little-endian in Pillow and on both Lambda architectures.
_COPIED = {"LA": "U8x2", "I;16": "U16"}


def lanczos(image: Image.Image, size: Size, box: Box | None = None) -> Image.Image:
    """`image.resize(size, Image.Resampling.LANCZOS, box=box)`, vectorised when possible."""
    whole = (0, 0, image.width, image.height)
    region = whole if box is None else tuple(box)
    if not _vectorised(image, size, region):
        return image.resize(size, Image.Resampling.LANCZOS, box=box)
    if tuple(size) == image.size and region == whole:
        return image.copy()  # as Pillow: nothing to resample
    options = ResizeOptions(resize_alg=ResizeAlg.convolution(FilterType.lanczos3))
    if region != whole:
        left, top, right, bottom = region
        options.crop_box = CropBox(left, top, right - left, bottom - top)
    # A Resizer per call: it keeps its scratch buffer (33 MiB after a 24 MP
    # photo's 2048 px) for as long as it lives, and pyo3 refuses one Resizer to
    # two threads at once (the encoder pool resizes in parallel, GIL released).
    # A new one costs about 1 ms of page faults, as Pillow's own buffer does.
    if image.mode in _IN_PLACE:
        resized = Image.new(image.mode, size)
        Resizer().resize_pil(image, resized, options)
    else:
        pixels = PixelType[_COPIED[image.mode]]
        options.use_alpha = image.mode == "LA"
        source = ImageData(image.width, image.height, pixels, image.tobytes())
        target = ImageData(size[0], size[1], pixels)
        Resizer().resize(source, target, options)
        resized = Image.frombytes(image.mode, size, target.get_buffer())
    resized.info = image.info.copy()  # Pillow's resize keeps info (an ICC profile, say)
    return resized


def vectorised(mode: str) -> bool:
    """Whether `lanczos` hands this mode to the vectorised resampler here."""
    return Resizer is not None and (mode in _IN_PLACE or mode in _COPIED)


def _vectorised(image: Image.Image, size: Size, box: tuple[float, ...]) -> bool:
    """Only what cykooz does as Pillow would; anything odd (an empty image or
    size, a box outside the picture) goes to Pillow, which raises Pillow's error."""
    if not vectorised(image.mode) or len(size) != 2 or len(box) != 4:
        return False
    width, height = size
    left, top, right, bottom = box
    return (
        isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0
        and 0 <= left < right <= image.width and 0 <= top < bottom <= image.height
    )

