"""Property: any picture a camera, phone or editor can write either renders
in every output format (right size, no metadata) or is rejected with a
reason code and a message for a person. Nothing else escapes process_image.

The space: input format × the modes it can store × alpha (none, opaque,
partial) × ICC profile (none, sRGB, Display P3) × EXIF orientation 1–8 ×
size. Hypothesis is derandomised so every run tries the same examples (no
flaky landings); `IMGPIPE_PROPERTY_EXAMPLES=2000` explores more by hand.
"""

import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms

from chalicelib.codecs import AVIF_SUPPORTED
from chalicelib.errors import ImageRejectedError
from chalicelib.imaging import process_image
from chalicelib.renditions import COVER, RenditionSpec
from tests import images

FIT = RenditionSpec("fit", 16, 16)
COVER_BOX = RenditionSpec("cover", 8, 8, COVER)
FORMATS = ["jpeg", "png", "webp", "auto", "source"] + (["avif"] if AVIF_SUPPORTED else [])
OUTPUTS = [(spec, fmt) for spec in (FIT, COVER_BOX) for fmt in FORMATS]
# Modes each input format can store, as Pillow writes them.
MODES = {
    "PNG": ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"],
    "TIFF": ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F"],
    "JPEG": ["L", "RGB", "CMYK"],
    "WEBP": ["RGB", "RGBA"],
    "GIF": ["L", "P"],
    "BMP": ["1", "L", "P", "RGB", "RGBA"],
}
CARRIES_ICC = {"PNG", "TIFF", "JPEG", "WEBP"}
CARRIES_EXIF = {"PNG", "TIFF", "JPEG", "WEBP"}
PROFILES = {
    "none": None,
    "srgb": ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
    "display-p3": images.display_p3_profile(),
}
INTERNALS = re.compile(r"0x[0-9a-f]+|Traceback|<.*object at")


@st.composite
def pictures(draw):
    fmt = draw(st.sampled_from(sorted(MODES)))
    mode = draw(st.sampled_from(MODES[fmt]))
    alpha = draw(st.sampled_from(["none", "opaque", "partial"]))
    icc = draw(st.sampled_from(sorted(PROFILES))) if fmt in CARRIES_ICC else "none"
    orientation = draw(st.integers(1, 8)) if fmt in CARRIES_EXIF else 1
    size = (draw(st.integers(1, 40)), draw(st.integers(1, 40)))
    return fmt, mode, alpha, icc, orientation, size


def make(fmt: str, mode: str, alpha: str, icc: str, orientation: int, size: tuple[int, int]) -> bytes:
    picture = images.quadrants(*size, mode="RGBA")
    if alpha == "partial":
        picture.putalpha(Image.linear_gradient("L").resize(size))
    params: dict = {}
    if mode == "P":
        picture = picture.convert("RGB").quantize(16)
        if alpha != "none":  # opaque: a transparent index that no pixel uses
            params["transparency"] = picture.getpixel((0, 0)) if alpha == "partial" else 255
    elif mode in ("I;16", "I", "F"):
        picture = picture.convert("L").convert(mode if mode != "I;16" else "I")
        picture = picture.point(lambda v: v * 200) if mode != "F" else picture.point(lambda v: v / 255)
        if mode == "I;16":
            picture = picture.convert("I;16")
    else:
        picture = picture.convert(mode)
    if PROFILES[icc]:
        params["icc_profile"] = PROFILES[icc]
    if orientation != 1 and fmt == "TIFF":
        params["tiffinfo"] = {0x0112: orientation}  # TIFF's own tag: the `exif` option is ignored
    elif orientation != 1:
        exif = Image.Exif()
        exif[0x0112] = orientation
        params["exif"] = exif.tobytes()
    return images.encode(picture, fmt, **params)


def expected_size(spec: RenditionSpec, width: int, height: int) -> tuple[int, int]:
    """Fit: inside the box, aspect kept, never enlarged. Cover (a square box
    here): the box, or the largest centred square when the image is smaller."""
    if spec.mode == COVER:
        side = min(spec.width, width, height)
        return side, side
    scale = min(spec.width / width, spec.height / height, 1)
    return max(1, round(width * scale)), max(1, round(height * scale))


def check(data: bytes, orientation: int, size: tuple[int, int]) -> None:
    try:
        result = process_image(data, OUTPUTS, 100_000_000)
    except ImageRejectedError as exc:
        assert not INTERNALS.search(exc.message), exc.message
        raise  # every file made here is valid: a rejection is a bug too
    width, height = size[::-1] if orientation >= 5 else size
    assert (result.source.width, result.source.height) == (width, height)
    for (spec, fmt), rendition in zip(OUTPUTS, result.renditions):
        out = images.decode(rendition.data)
        assert out.size == (rendition.width, rendition.height) == expected_size(spec, width, height), fmt
        assert out.format.lower() == rendition.format, fmt
        assert not out.getexif(), fmt
        assert not {"icc_profile", "exif", "xmp", "comment"} & set(out.info), (fmt, out.info.keys())


@settings(max_examples=int(os.environ.get("IMGPIPE_PROPERTY_EXAMPLES", 120)), deadline=None,
          derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(pictures())
def test_any_picture_renders_in_every_format_or_is_rejected_with_a_reason(picture):
    fmt, mode, alpha, icc, orientation, size = picture
    check(make(*picture), orientation, size)


@pytest.mark.parametrize("fmt,mode,alpha,icc", [
    ("PNG", "RGBA", "opaque", "display-p3"),  # the macOS screenshot
    ("PNG", "RGBA", "partial", "display-p3"),
    ("WEBP", "RGBA", "opaque", "srgb"),
    ("TIFF", "LA", "opaque", "display-p3"),
    ("PNG", "P", "opaque", "display-p3"),
    ("TIFF", "CMYK", "none", "display-p3"),  # an RGB profile on CMYK pixels
    ("PNG", "L", "none", "srgb"),  # an RGB profile on grey pixels
])
def test_every_alpha_and_profile_combination_that_once_crashed(fmt, mode, alpha, icc):
    check(make(fmt, mode, alpha, icc, 6, (30, 20)), 6, (30, 20))


def test_macos_screenshot_is_converted_to_srgb():
    result = process_image(images.screenshot_png(), [(FIT, "auto"), (FIT, "webp")], 100_000_000)
    for rendition in result.renditions:
        out = images.decode(rendition.data).convert("RGB")
        assert images.pixel_close(out.getpixel((2, 5)), (255, 0, 0), 12), rendition.format
    assert result.renditions[0].format == "jpeg"  # the opaque alpha was dropped
