"""Greyscale pictures with an ICC profile, shown through it.

imaging._normalise builds transforms for RGB and CMYK profiles only, so a
greyscale JPEG or PNG tagged with, say, a linear-light (gamma 1.0) grey
profile comes out far too dark: its levels are taken as sRGB's. lcms2 links
a GRAY profile to sRGB (L in, RGB out) like any other; this builds that
transform, or says there is none to build.
"""

import io

from PIL import Image, ImageCms

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def grey_transform(icc: bytes | None) -> ImageCms.ImageCmsTransform | None:
    """L → sRGB RGB through `icc` when it is a readable greyscale profile, else None
    (no profile, a broken one, or one for another colour space: the caller treats
    the levels as sRGB, as today)."""
    if not icc:
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if profile.profile.xcolor_space != "GRAY":
            return None
        # NOCACHE: lcms2's one-pixel cache is not thread-safe; encoder threads share the transform.
        return ImageCms.buildTransform(profile, _SRGB, "L", "RGB", flags=ImageCms.Flags.NOCACHE)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None


def grey_to_srgb(image: Image.Image) -> Image.Image:
    """`image` (mode L) through its embedded grey profile as RGB; itself when it has none."""
    transform = grey_transform(image.info.get("icc_profile")) if image.mode == "L" else None
    if transform is None:
        return image
    converted = transform.apply(image)
    converted.info = {}  # apply() attaches the sRGB profile; outputs carry none
    return converted
