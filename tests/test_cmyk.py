"""chalicelib/cmyk.py: untagged CMYK through the shipped press profile, as libvips shows it."""

import io

import pytest
from PIL import Image, ImageCms

from chalicelib import cmyk
from tests import reference_images as ref
from tests.reference import mean_difference, vips_frames


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_the_shipped_profile_is_the_public_domain_cmyk_press_profile():
    profile = ImageCms.ImageCmsProfile(str(cmyk.PROFILE))
    assert profile.profile.xcolor_space == "CMYK"
    assert "public domain" in ImageCms.getProfileCopyright(profile)


def test_untagged_cmyk_comes_out_as_libvips_shows_it_and_naive_inversion_does_not():
    sample = ref.cmyk_jpeg()
    reference = vips_frames(sample.data)
    if reference is None:
        pytest.skip("libvips (pyvips) is not available")
    image = _open(sample.data)
    converted = cmyk.untagged_cmyk_to_srgb(image)
    assert converted.mode == "RGB" and converted.size == image.size and converted.info == {}
    assert mean_difference(converted, reference[0]) < 1
    assert mean_difference(image.convert("RGB"), reference[0]) > 10  # what imaging does today


def test_the_transform_is_built_once():
    assert cmyk.untagged_transform() is cmyk.untagged_transform()


def test_other_modes_are_refused():
    with pytest.raises(ValueError):
        cmyk.untagged_cmyk_to_srgb(Image.new("RGB", (2, 2)))
