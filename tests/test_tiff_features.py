"""chalicelib/imaging/messages.py: a valid TIFF Pillow cannot decode is named, not called damaged."""

import struct

import pytest

from chalicelib.config import load_settings
from chalicelib.errors import ImgpipeError
from chalicelib.imaging import process_image
from chalicelib.pipeline import rendition_outputs
from chalicelib.imaging.messages import unsupported_feature
from tests import images
from tests import reference_images as ref

SETTINGS = load_settings({"INPUT_BUCKET": "i", "OUTPUT_BUCKET": "o", "STATUS_TABLE": "t"})


@pytest.mark.parametrize(
    "data,feature",
    [
        (ref.float_tiff().data, "32-bit floating-point RGB TIFF is not supported."),
        (ref.lab_tiff().data, "16-bit CIELab TIFF is not supported."),
        (images.encode(images.quadrants(), "TIFF", big_tiff=True), "8-bit RGB TIFF is not supported."),
    ],
)
def test_the_feature_is_named(data, feature):
    assert unsupported_feature(data) == feature


def test_big_endian_and_unknown_compression():
    strip = b"\0" * 12
    data = bytearray(ref.write_tiff(2, 2, 3, 8, 2, 1, strip))
    at = struct.unpack_from("<I", data, 4)[0]
    for i in range(struct.unpack_from("<H", data, at)[0]):
        if struct.unpack_from("<H", data, at + 2 + 12 * i)[0] == 259:
            struct.pack_into("<H", data, at + 2 + 12 * i + 8, 34712)
    assert unsupported_feature(bytes(data)) == "TIFF with JPEG 2000 compression is not supported."


@pytest.mark.parametrize(
    "data", [b"", b"II*\x00" + b"\xff" * 60, b"MM\x00*\x00\x00\x00\x08\x00", b"II+\x00" + b"\x00" * 4]
)
def test_no_readable_directory_names_nothing(data):
    assert unsupported_feature(data) is None


def test_truncations_never_raise():
    data = ref.lab_tiff().data
    for cut in range(0, len(data), 97):
        unsupported_feature(data[:cut])


@pytest.mark.parametrize("sample", [ref.float_tiff(), ref.lab_tiff()], ids=lambda s: s.name)
def test_a_valid_tiff_pillow_lacks_is_refused_as_unsupported_naming_the_feature(sample):
    with pytest.raises(ImgpipeError) as refused:
        process_image(sample.data, rendition_outputs(SETTINGS), SETTINGS.max_pixels)
    assert refused.value.code == "unsupported_format"
    assert refused.value.message == unsupported_feature(sample.data)
