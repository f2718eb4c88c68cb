"""CMYK without an embedded profile, converted as libvips converts it.

Pillow's convert("RGB") inverts CMYK naively (R = 255 - C - K ...), which is
about a dozen levels off on the mean from what press profiles give. A CMYK
upload without a profile was made for print; so, like libvips (and
Photoshop's default), assume a standard press profile. The one shipped is
"Chemical proof" by Graeme W. Gill (ArgyllCMS), released into the public
domain, the same profile libvips builds in as its CMYK fallback
(chalicelib/profiles/README.txt). Relative colorimetric intent: libvips'
default, and what tests/test_cmyk.py checks against libvips.
"""

from functools import cache
from pathlib import Path

from PIL import Image, ImageCms

PROFILE = Path(__file__).with_name("profiles") / "cmyk-chemical-proof.icc"
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@cache
def untagged_transform() -> ImageCms.ImageCmsTransform:
    """CMYK (through the shipped press profile) → sRGB, built once (~0.1 s)
    on the first untagged CMYK image, never on import."""
    return ImageCms.buildTransform(
        ImageCms.ImageCmsProfile(str(PROFILE)), _SRGB, "CMYK", "RGB",
        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
        # lcms2's one-pixel cache is not thread-safe; encoder threads share this transform.
        flags=ImageCms.Flags.NOCACHE,
    )


def untagged_cmyk_to_srgb(image: Image.Image) -> Image.Image:
    """An RGB picture of a CMYK `image` that carries no ICC profile."""
    if image.mode != "CMYK":
        raise ValueError(f"expected a CMYK image, got mode {image.mode}")
    converted = untagged_transform().apply(image)
    converted.info = {}  # apply() attaches the sRGB profile; outputs carry none
    return converted
