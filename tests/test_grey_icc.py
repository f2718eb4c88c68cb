"""chalicelib/grey_icc.py: greyscale ICC profiles are honoured (issue 19, section 5)."""

import io

import pytest
from PIL import Image

from chalicelib.grey_icc import grey_to_srgb, grey_transform
from tests import images
from tests import reference_images as ref
from tests.reference import mean_difference


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_linear_grey_profile_lightens_the_picture_as_libvips_and_browsers_show_it(fmt):
    sample = ref.grey_icc(fmt)
    image = Image.open(io.BytesIO(sample.data))
    image.load()
    shown = grey_to_srgb(image)
    assert shown.mode == "RGB" and shown.info == {}
    assert mean_difference(shown, sample.truth[0]) < 2
    assert mean_difference(image.convert("RGB"), sample.truth[0]) > 20  # the levels taken as sRGB


def test_no_broken_or_foreign_profile_gives_a_transform():
    assert grey_transform(None) is None
    assert grey_transform(b"not a profile") is None
    assert grey_transform(images.display_p3_profile()) is None  # RGB, not GRAY
    image = Image.new("L", (4, 4), 100)
    assert grey_to_srgb(image) is image
