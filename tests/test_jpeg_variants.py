"""JPEG variants and BigTIFF: accept what Pillow decodes, refuse the rest
with a message a person understands.

tests/data/jpeg holds real files (a few hundred bytes each): 12-bit,
lossless 8/12/16-bit written by imagecodecs' libjpeg-turbo 3, arithmetic
(sequential and progressive) written by `cjpeg -arithmetic` 2.1.5.
"""

import io
from pathlib import Path

import pytest

from chalicelib.errors import UnsupportedFormatError
from chalicelib.imaging import process_image
from chalicelib.imaging.decode import sniff_format
from chalicelib.renditions import RenditionSpec
from tests import images

DATA = Path(__file__).parent / "data" / "jpeg"
SMALL = RenditionSpec("small", 16, 16)
LIMIT = 100_000_000


@pytest.mark.parametrize("name,message", [
    ("12bit.jpg", "12-bit JPEG is not supported."),
    ("lossless12.jpg", "12-bit lossless JPEG is not supported."),
    ("lossless16.jpg", "16-bit lossless JPEG is not supported."),
])
def test_jpeg_variants_pillow_cannot_decode_are_named(name, message):
    with pytest.raises(UnsupportedFormatError) as info:
        process_image((DATA / name).read_bytes(), [(SMALL, "jpeg")], LIMIT)
    assert info.value.message == message


@pytest.mark.parametrize("name", ["arith.jpg", "arithprog.jpg", "lossless8.jpg"])
def test_jpeg_variants_pillow_decodes_are_accepted(name):
    # 32×24, red top-left; 16 px wide output makes the 8-bit lossless file go
    # through the reduced-scale path, which libjpeg cannot do for lossless.
    result = process_image((DATA / name).read_bytes(), [(SMALL, "png")], LIMIT)
    out = images.decode(result.renditions[0].data).convert("RGB")
    assert out.size == (16, 12)
    assert images.pixel_close(out.getpixel((2, 2)), (220, 20, 20), 30)


def test_hierarchical_jpeg_is_named():
    # Pillow reads the header, then libjpeg refuses the frame: checked with
    # the same file before the check existed.
    data = images.jpeg(32, 24).replace(b"\xff\xc0", b"\xff\xc5", 1)
    with pytest.raises(UnsupportedFormatError) as info:
        process_image(data, [(SMALL, "jpeg")], LIMIT)
    assert info.value.message == "Hierarchical JPEG is not supported."


def test_bigtiff_is_accepted():
    buffer = io.BytesIO()
    images.quadrants(40, 30).save(buffer, "TIFF", big_tiff=True)
    data = buffer.getvalue()
    assert data[:4] == b"II+\x00"
    result = process_image(data, [(SMALL, "png")], LIMIT)
    assert (result.source.format, result.source.width, result.source.height) == ("TIFF", 40, 30)
    out = images.decode(result.renditions[0].data)
    assert out.size == (16, 12) and images.pixel_close(out.getpixel((2, 2)), images.RED, 30)
    assert sniff_format(b"MM\x00+\x00\x08\x00\x00" + b"\0" * 8) == "TIFF"  # big-endian BigTIFF
