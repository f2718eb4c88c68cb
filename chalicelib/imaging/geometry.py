"""Pixel geometry every stage shares: how far a rendition spec scales a picture,
and the EXIF orientations (turning a picture upright, and an upright box back
into the stored picture's pixels). Decoding (DCT scale, animation frames) and
resizing both use it, so it sits below them.
"""

from PIL import Image

from chalicelib.renditions import COVER, FILL, RenditionSpec

# Orientation tag → the transpose that shows the picture upright.
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def spec_scale(spec: RenditionSpec, width: int | float, height: int | float) -> float:
    """The factor that fits (or, for `cover`, fills) the spec's box with a picture of width × height
    (`fill`, which stretches, needs the larger factor along one side too)."""
    ratios = (spec.width / width, spec.height / height)
    return max(ratios) if spec.mode in (COVER, FILL) else min(ratios)


def upright(picture: Image.Image, orientation: int) -> Image.Image:
    """`picture` as stored turned by its EXIF orientation (itself when upright)."""
    return picture.transpose(TRANSPOSE[orientation]) if orientation in TRANSPOSE else picture


def stored_box(
    box: tuple[float, float, float, float], stored_size: tuple[float, float], orientation: int
) -> tuple[float, float, float, float]:
    """A box of the upright picture in the stored picture's pixels, whose
    extent is `stored_size` (width, height as stored): cutting and resizing
    there, then turning the result, gives that box of the upright picture."""
    left, top, right, bottom = box
    width, height = stored_size
    return {
        2: (width - right, top, width - left, bottom),
        3: (width - right, height - bottom, width - left, height - top),
        4: (left, height - bottom, right, height - top),
        5: (top, left, bottom, right),
        6: (top, height - right, bottom, height - left),
        7: (width - bottom, height - right, width - top, height - left),
        8: (width - bottom, left, width - top, right),
    }.get(orientation, box)
