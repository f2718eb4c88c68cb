"""chalicelib/imaging/bmp.py: the BMP layouts Pillow lacks, decoded as browsers show them, defensively."""

import io
import random
import struct
import time

import pytest
from PIL import Image

from chalicelib.errors import (
    CorruptImageError, ImageRejectedError, TooManyPixelsError, UnsupportedFormatError,
)
from chalicelib.imaging import bmp, process_image
from chalicelib.renditions import RenditionSpec
from tests import reference_images as ref
from tests.reference import mean_difference

BMPS = ref.bmp_samples()
LIMIT = 100_000_000
# Layouts Pillow decodes right itself: bmp.handles leaves them to it.
ARGB = (0xFF0000, 0xFF00, 0xFF, 0xFF000000)
PILLOW_KNOWS = {"v4-alpha.bmp", "v5-alpha.bmp", "v5-rgba-low-alpha.bmp", "rgb16-565.bmp"}


def _alpha(image: Image.Image) -> Image.Image:
    return image.convert("RGBA").getchannel("A").convert("RGB")


@pytest.mark.parametrize("sample", BMPS, ids=lambda s: s.name)
def test_every_layout_decodes_to_its_true_pixels(sample):
    image = bmp.decode(sample.data, LIMIT)
    truth = sample.truth[0]
    assert image.size == truth.size and image.format == "BMP"
    assert mean_difference(image.convert(truth.mode), truth) == 0
    assert mean_difference(_alpha(image), _alpha(truth)) == 0


@pytest.mark.parametrize("sample", BMPS, ids=lambda s: s.name)
def test_handles_exactly_what_pillow_lacks_or_misreads(sample):
    assert bmp.handles(sample.data) == (sample.name not in PILLOW_KNOWS)


@pytest.mark.parametrize("sample", [s for s in BMPS if s.name in PILLOW_KNOWS], ids=lambda s: s.name)
def test_the_bmp_writer_agrees_with_pillow_where_pillow_reads_the_layout(sample):
    """The test files' writer checked by an independent reader."""
    image = Image.open(io.BytesIO(sample.data))
    truth = sample.truth[0]
    assert image.mode == truth.mode
    assert mean_difference(image, truth) < 1  # Pillow widens 5-bit channels a little differently


def test_pillow_still_misreads_or_refuses_the_others():
    """If Pillow learns one of these layouts, handles() can leave it to Pillow."""
    for sample in BMPS:
        if sample.name in PILLOW_KNOWS:
            continue
        try:
            image = Image.open(io.BytesIO(sample.data))
            image.load()
        except OSError:
            continue
        assert mean_difference(image.convert(sample.truth[0].mode), sample.truth[0]) > 5, sample.name


def test_top_down_rows():
    sample = ref.bitfields_bmp("x.bmp", 16, (0x1F, 0x7E0, 0xF800))
    data = bytearray(sample.data)
    width, height = struct.unpack_from("<ii", data, 18)
    stride = (width * 2 + 3) // 4 * 4
    at = struct.unpack_from("<I", data, 10)[0]
    rows = [bytes(data[at + i * stride : at + (i + 1) * stride]) for i in range(height)]
    data[at:] = b"".join(reversed(rows))
    struct.pack_into("<i", data, 22, -height)
    assert mean_difference(bmp.decode(bytes(data), LIMIT), sample.truth[0]) == 0


def test_alpha_that_is_zero_everywhere_is_opaque():
    """Writers leave the fourth byte unset; browsers then show the picture opaque."""
    sample = ref.bitfields_bmp("x.bmp", 32, ARGB, compression=ref.BI_ALPHABITFIELDS)
    data = bytearray(sample.data)
    at = struct.unpack_from("<I", data, 10)[0]
    for i in range(at + 3, len(data), 4):
        data[i] = 0
    image = bmp.decode(bytes(data), LIMIT)
    assert image.mode == "RGB"
    assert mean_difference(image, sample.truth[0].convert("RGB")) == 0


def test_the_pixel_limit_is_checked_before_anything_is_allocated():
    data = ref.write_bmp(60_000, 60_000, 32, b"\0" * 64, ref.BI_ALPHABITFIELDS, ARGB)
    with pytest.raises(TooManyPixelsError):
        bmp.decode(data, LIMIT)


@pytest.mark.parametrize(
    "data,error",
    [
        (b"BM" + b"\0" * 10, CorruptImageError),
        (ref.write_bmp(4, 4, 32, b"\0" * 20, ref.BI_ALPHABITFIELDS, (0xFF0000, 0xFF00, 0xFF, 0xFF000000)),
         CorruptImageError),  # rows missing
        # overlapping masks; a mask with a gap; a mask past the pixel size
        (ref.write_bmp(4, 4, 16, b"\0" * 32, ref.BI_BITFIELDS, (0xF800, 0xFC0, 0x1F)), CorruptImageError),
        (ref.write_bmp(4, 4, 16, b"\0" * 32, ref.BI_BITFIELDS, (0xF000, 0x7E0, 0x5)), UnsupportedFormatError),
        (ref.write_bmp(4, 4, 16, b"\0" * 32, ref.BI_BITFIELDS, (0xF800, 0x7E0, 0x1F0000)), CorruptImageError),
        # RLE runs that end before the picture does
        (ref.write_bmp(4, 4, 24, bytes((5, 1, 2, 3)), ref.BI_RLE24, header_size=64), CorruptImageError),
        (ref.write_bmp(4, 4, 3, b"\0" * 16), UnsupportedFormatError),
        (ref.write_bmp(4, 4, 24, b"\0" * 16, 5), UnsupportedFormatError),
        (ref.write_bmp(0, 4, 24, b"\0" * 16), CorruptImageError),
    ],
)
def test_broken_or_unknown_layouts_are_refused_with_the_right_code(data, error):
    with pytest.raises(error) as refused:
        bmp.decode(data, LIMIT)
    assert "b'" not in str(refused.value) and "0x" not in str(refused.value)


def test_rle24_runs_past_the_edges_are_cut_off_not_written_out_of_bounds():
    runs = bytes((255, 1, 2, 3)) * 4 + b"\0\2\xff\xff" + bytes((0, 9)) + b"\1\2\3" * 9 + b"\0" + b"\0\1"
    image = bmp.decode(ref.write_bmp(4, 2, 24, runs, ref.BI_RLE24, header_size=64), LIMIT)
    assert image.size == (4, 2)
    assert image.getpixel((0, 1)) == (3, 2, 1)  # bottom-up: the first run is the last row


def test_mutated_files_end_in_a_domain_error_or_a_picture_quickly():
    rng = random.Random(19)
    started = time.monotonic()
    for _ in range(400):
        data = bytearray(rng.choice(BMPS).data)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.3:
            data = data[: rng.randrange(14, len(data))]
        try:
            bmp.handles(bytes(data))
            image = bmp.decode(bytes(data), 1_000_000)
        except ImageRejectedError:
            continue
        assert image.width * image.height <= 1_000_000
    assert time.monotonic() - started < 20


@pytest.mark.parametrize(
    "data,code,message",
    [
        (ref.write_bmp(48, 32, 0, b"\x89PNG" + b"\0" * 60, 5), "unsupported_format",
         "BMP with embedded PNG data is not supported."),
        (ref.write_bmp(48, 32, 0, b"\xff\xd8" + b"\0" * 60, ref.BI_RLE24), "unsupported_format",
         "BMP with embedded JPEG data is not supported."),
        (ref.write_bmp(4, 4, 16, b"\0" * 32, ref.BI_BITFIELDS, (0xF000, 0x7E0, 0x5)), "unsupported_format",
         "BMP colour masks with gaps in them are not supported."),
        (b"BM" + struct.pack("<IHHIIiiHH", 120, 0, 0, 34, 20, 4, 4, 1, 24) + b"\0" * 100,
         "unsupported_format",
         "BMP with a 20-byte header is not supported."),
        (b"BM" + b"\xff" * 60, "corrupt_image", "The BMP file cannot be read."),
    ],
    ids=["embedded-png", "embedded-jpeg", "gappy-masks", "20-byte-header", "junk"],
)
def test_the_pipeline_names_what_it_does_not_decode_and_calls_only_broken_data_damaged(data, code, message):
    """Through decode.open_image: a valid BMP neither Pillow nor bmp.py decodes is
    unsupported_format with its feature named; broken data stays corrupt_image."""
    with pytest.raises(ImageRejectedError) as refused:
        process_image(data, [(RenditionSpec("small", 32, 32), "png")], LIMIT)
    assert (refused.value.code, refused.value.message) == (code, message)
