"""process_variant: one on-demand variant (chalicelib/variants.py) from image bytes,
through the same stages as every rendition: plan's decode (draft, orientation,
colour), resize.fit (crops, focal point, the one LANCZOS), encode.

The bytes may be the source or a stored rendition of the whole picture (upright,
sRGB, no metadata), whichever the caller chose; the result is the same picture.
Animated sources give their first frame.
"""

from chalicelib.crop import Framing, Point
from chalicelib.imaging.encode import encode
from chalicelib.imaging.plan import _decode
from chalicelib.imaging.resize import fit
from chalicelib.imaging.types import EncodedRendition, stage
from chalicelib.renditions import RenditionSpec
from chalicelib.variants import VariantOptions

VARIANT_NAME = "variant"
_FREE = 1 << 20  # a side the options leave free: never the one that binds


def variant_spec(options: VariantOptions) -> RenditionSpec:
    """The rendition spec of `options` (dpr applied); `g_centre` is the plain centre crop."""
    width, height = options.box
    return RenditionSpec(VARIANT_NAME, width or _FREE, height or _FREE, options.fit,
                         centred=options.gravity == "centre")


def process_variant(
    data: bytes, options: VariantOptions, max_pixels: int, focus: Point | None = None
) -> EncodedRendition:
    """Decode `data`, fit it to the options' box and encode it in their (concrete) format.

    Cover crops go to `focus` with `g_focus` (the most interesting part when the
    image has none), to the most interesting part with `g_smart`. Raises an
    ImageRejectedError subclass for bytes that are no image.
    """
    if options.format not in ("jpeg", "png", "webp", "avif"):
        raise ValueError(f"process_variant needs a concrete format, not {options.format!r}")
    spec = variant_spec(options)
    with stage("Decoding the image"):
        source, colour, _, orientation, extent, _ = _decode(data, [spec], max_pixels)
    framing = Framing(focus if options.gravity == "focus" else None)
    with stage("Resizing the image"):
        picture = fit(source, spec, {}, extent, framing, orientation, colour)
    del source  # the full-size pixels can go before the encode
    with stage(f"Encoding the {options.format} variant"):
        encoded = encode(picture, options.format, options.quality)
    return EncodedRendition(VARIANT_NAME, options.format, picture.width, picture.height, encoded)
