"""chalicelib/imaging/variant.py: process_variant through the imaging stages."""

from dataclasses import replace

import pytest

from chalicelib.errors import CorruptImageError
from chalicelib.imaging.variant import process_variant
from chalicelib.variants import parse_options
from tests import images

MAX = 100_000_000


def _options(text: str, fmt: str = "jpeg"):
    return replace(parse_options(text), format=fmt)


@pytest.mark.parametrize("text, size", [
    ("w_200", (200, 150)),
    ("w_200,dpr_2", (400, 300)),
    ("w_800", (400, 300)),  # never upscaled
    ("w_100,h_100,fit_cover", (100, 100)),
    ("w_100,h_100,fit_fill", (100, 100)),
    ("h_60", (80, 60)),
])
def test_sizes(text, size):
    made = process_variant(images.jpeg(400, 300), _options(text), MAX)
    picture = images.decode(made.data)
    assert picture.size == size == (made.width, made.height)
    assert picture.format == "JPEG"


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_oriented_sources_come_out_upright(orientation):
    made = process_variant(images.oriented_jpeg(orientation), _options("w_200", "webp"), MAX)
    picture = images.decode(made.data).convert("RGB")
    assert picture.size == (200, 150) and made.format == "webp"
    assert images.pixel_close(picture.getpixel((20, 20)), images.RED)
    assert images.pixel_close(picture.getpixel((180, 130)), images.YELLOW)


def test_cover_gravity_focus_smart_and_centre():
    data = images.jpeg(400, 100)  # quadrants: red, green on top; blue, yellow below
    left = process_variant(data, _options("w_100,h_100,fit_cover"), MAX, focus=(0.0, 0.5))
    centre = process_variant(data, _options("w_100,h_100,fit_cover,g_centre"), MAX, focus=(0.0, 0.5))
    assert images.pixel_close(images.decode(left.data).getpixel((10, 10)), images.RED)
    # The centre crop straddles the red/green border.
    assert images.pixel_close(images.decode(centre.data).getpixel((10, 10)), images.RED)
    assert images.pixel_close(images.decode(centre.data).getpixel((90, 10)), images.GREEN)
    smart = process_variant(data, _options("w_100,h_100,fit_cover,g_smart"), MAX, focus=(0.0, 0.5))
    assert images.decode(smart.data).size == (100, 100)


def test_quality_and_formats():
    data = images.jpeg(400, 300)
    low = process_variant(data, _options("w_300,q_10", "webp"), MAX)
    high = process_variant(data, _options("w_300,q_95", "webp"), MAX)
    assert len(low.data) < len(high.data)
    png = process_variant(images.png_with_alpha(), _options("w_100", "png"), MAX)
    assert images.decode(png.data).mode == "RGBA"
    flat = process_variant(images.png_with_alpha(), _options("w_100", "jpeg"), MAX)
    assert images.decode(flat.data).mode == "RGB"


def test_refuses_auto_and_bad_bytes():
    with pytest.raises(ValueError):
        process_variant(images.jpeg(), parse_options("w_100"), MAX)
    with pytest.raises(CorruptImageError):
        process_variant(images.truncated(images.jpeg(), 0.1), _options("w_100"), MAX)
