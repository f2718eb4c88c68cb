"""Resizing: where each rendition comes from (a cascade from bigger renditions),
its crop (placed by crop.py), turning it upright, and `lanczos`, the one
resampling call every rendition goes through (chalicelib.resample: SIMD
Lanczos3 with Pillow's semantics).
"""

from PIL import Image, ImageCms

from chalicelib import resample
from chalicelib.crop import CENTRE, SALIENCY_EDGE, Framing, place_crop
from chalicelib.imaging.geometry import spec_scale, stored_box, upright
from chalicelib.renditions import COVER, FILL, RenditionSpec


def fit(
    image: Image.Image,
    spec: RenditionSpec,
    made: dict[RenditionSpec, Image.Image],
    extent: tuple[float, float] | None = None,
    framing: Framing | None = None,
    orientation: int = 1,
    colour: ImageCms.ImageCmsTransform | None = None,
) -> Image.Image:
    """Fit or cover-crop `image` into the spec's box, never upscaling; a cover
    crop is placed by `framing` (centred without one, or for `cover:center`).

    `image` is as stored, with its EXIF `orientation` still to apply; `made`
    renditions and the result are upright, and in sRGB: what is cut from
    `image` goes through `colour` (decode.normalise's transform), what is cut
    from a made rendition is already converted. So an ICC-tagged photo's
    colours are converted once, at the largest size, as libvips' cascade does,
    not again for every smaller one (lcms converts about 50 Mpx/s).

    `extent` is the source's exact upright size in `image`'s pixels when a
    DCT-scaled decode rounded it up (see decode.draft). Resamples from the smallest already-made full-frame
    rendition that still has twice the pixels needed, which costs far less
    than starting from the full image each time and looks the same.
    """
    turned = orientation in (5, 6, 7, 8)  # stored width is the upright height
    width, height = extent or (image.size[::-1] if turned else image.size)
    scale = spec_scale(spec, width, height)
    if spec.mode == COVER:
        if scale > 1:  # too small to fill the box: crop to its aspect, no resampling
            size = (round(spec.width / scale), round(spec.height / scale))
        else:
            size = (spec.width, spec.height)
        crop_w, crop_h = size[0] / min(scale, 1), size[1] / min(scale, 1)
    elif spec.mode == FILL:  # the whole picture stretched to the box, neither side upscaled
        shrink = min(1.0, width / spec.width, height / spec.height)
        size = (max(1, round(spec.width * shrink)), max(1, round(spec.height * shrink)))
        crop_w, crop_h = width, height
    else:
        scale = min(scale, 1.0)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        crop_w, crop_h = width, height
    centre = CENTRE
    if spec.mode == COVER and framing and not spec.centred and (crop_w < width or crop_h < height):
        fits = [other for other_spec, other in made.items() if other_spec.mode != COVER]
        smallest = min(fits, key=lambda p: p.width) if fits else preview(image, orientation)
        centre = framing.centre((width, height), (crop_w, crop_h), smallest)
    box = place_crop((width, height), (crop_w, crop_h), centre)
    if size == (image.size[::-1] if turned else image.size) and box == (0, 0, width, height):
        return to_srgb(upright(image, orientation), colour)

    base, base_width = image, (image.height if turned else image.width)
    for other_spec, other in made.items():
        ratio_x, ratio_y = other.width / width, other.height / height
        if (
            other_spec.mode != COVER
            and crop_w * ratio_x >= 2 * size[0]
            and crop_h * ratio_y >= 2 * size[1]
            and other.width < base_width
        ):
            base, base_width = other, other.width
    if base is image:  # `box` is in upright pixels of `image`: cut the stored picture, then turn
        stored = stored_box(box, (height, width) if turned else (width, height), orientation)
        made_size = size[::-1] if turned else size
        return to_srgb(upright(lanczos(image, made_size, stored), orientation), colour)
    # A made rendition covers exactly (width, height).
    ratio_x, ratio_y = base.width / width, base.height / height
    scaled_box = (box[0] * ratio_x, box[1] * ratio_y, box[2] * ratio_x, box[3] * ratio_y)
    return lanczos(base, size, scaled_box)


def to_srgb(picture: Image.Image, transform: ImageCms.ImageCmsTransform | None) -> Image.Image:
    """`picture` in sRGB by decode.normalise's transform (itself without one)."""
    if transform is None:
        return picture
    picture = transform.apply(picture)
    picture.info = {}  # apply() attaches the sRGB profile; outputs carry none
    return picture


def lanczos(
    image: Image.Image, size: tuple[int, int], box: tuple[float, float, float, float] | None = None,
) -> Image.Image:
    """LANCZOS of `box` (the whole picture by default) to `size`: every
    rendition's resampling goes through here, stills and animation frames.

    resample.lanczos: 7-11x faster than Pillow's scalar LANCZOS for the 8-bit
    and 16-bit modes decode.normalise gives, Pillow's own for the rest (and
    where cykooz-resizer has no wheel). No reducing_gap: a box reduce() first
    only made Pillow's slow filter cheaper, at a cost in sharpness; and no
    split over the pool: one vectorised call is faster than two halves on two
    threads (docs/PERFORMANCE.md, "SIMD resampler").
    """
    return resample.lanczos(image, size, box)


def preview(image: Image.Image, orientation: int) -> Image.Image:
    """An upright copy of at most SALIENCY_EDGE pixels a side, for a cover crop's
    interest map when no smaller rendition exists yet (as crop.measure_interest shrinks)."""
    scale = min(1.0, SALIENCY_EDGE / max(image.size))
    small = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                         Image.Resampling.BOX)
    return upright(small, orientation)
