"""Resizing: where each rendition comes from (a cascade from bigger renditions),
its crop (placed by crop.py), turning it upright, and `lanczos`, the one
resampling call every rendition goes through.
"""

from PIL import Image

from chalicelib.crop import CENTRE, SALIENCY_EDGE, Framing, place_crop
from chalicelib.imaging.geometry import spec_scale, stored_box, upright
from chalicelib.imaging.pool import get_pool
from chalicelib.renditions import COVER, FILL, RenditionSpec

# reducing_gap: a box-filter reduce() by an integer factor first while the
# result stays ≥ 2× the target (libvips' shrink, then lanczos3 reduce). It
# only engages for large non-JPEG sources; JPEGs shrank in draft().
_GAP = 2.0


def fit(
    image: Image.Image,
    spec: RenditionSpec,
    made: dict[RenditionSpec, Image.Image],
    extent: tuple[float, float] | None = None,
    framing: Framing | None = None,
    orientation: int = 1,
    split: bool = False,
) -> Image.Image:
    """Fit or cover-crop `image` into the spec's box, never upscaling; a cover
    crop is placed by `framing` (centred without one, or for `cover:center`).

    `image` is as stored, with its EXIF `orientation` still to apply; `made`
    renditions and the result are upright. `extent` is the source's exact
    upright size in `image`'s pixels when a DCT-scaled decode rounded it up
    (see decode.draft). Resamples from the smallest already-made full-frame
    rendition that still has twice the pixels needed, which costs far less
    than starting from the full image each time and looks the same.
    `split`: the pool is idle, so lanczos may resample half of the output on it.
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
        return upright(image, orientation)

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
        return upright(lanczos(image, made_size, stored, split), orientation)
    # A made rendition covers exactly (width, height).
    ratio_x, ratio_y = base.width / width, base.height / height
    scaled_box = (box[0] * ratio_x, box[1] * ratio_y, box[2] * ratio_x, box[3] * ratio_y)
    return lanczos(base, size, scaled_box, split)


# Below this many output pixels, handing half a resize to a thread costs more than it saves.
_SPLIT_PIXELS = 250_000


def lanczos(
    image: Image.Image, size: tuple[int, int], box: tuple[float, float, float, float] | None = None,
    split: bool = False,
) -> Image.Image:
    """LANCZOS of `box` (the whole picture by default) to `size`: every
    rendition's resampling goes through here, stills and animation frames.
    With `split` (and a pool), half of the output is resampled on the pool
    while this thread does the other half.

    The same pixels as one call, to within a level where the box's float32
    coordinates round differently (Pillow's filter reads past `box` up to the
    picture's edges), because each half keeps the pass order of the whole:
    Pillow resamples vertically first when the height shrinks more than twice
    as much as the width (Resample.c), so the halves are cut along the axis of
    the second pass. Not split when reducing_gap engages (a reduce() aligned to
    the box would differ).
    """
    box = box or (0, 0, *image.size)
    scale = ((box[2] - box[0]) / size[0], (box[3] - box[1]) / size[1])
    pool = get_pool() if split else None
    if not (pool and size[0] * size[1] >= _SPLIT_PIXELS and max(scale) < 2 * _GAP):
        return image.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=_GAP)
    shrink = image.height - size[1]
    axis = 1 if shrink > 0 and shrink > 2 * (image.width - size[0]) else 0  # 1: vertical pass first
    cut = size[axis] // 2
    middle = box[axis] + cut * scale[axis]
    first_size, second_size, first_box, second_box = list(size), list(size), list(box), list(box)
    first_size[axis], second_size[axis] = cut, size[axis] - cut
    first_box[axis + 2], second_box[axis] = middle, middle
    second = pool.submit(image.resize, tuple(second_size), Image.Resampling.LANCZOS, box=tuple(second_box))
    first = image.resize(tuple(first_size), Image.Resampling.LANCZOS, box=tuple(first_box))
    whole = Image.new(image.mode, size)
    whole.paste(first, (0, 0))
    whole.paste(second.result(), (cut, 0) if axis == 0 else (0, cut))
    return whole


def preview(image: Image.Image, orientation: int) -> Image.Image:
    """An upright copy of at most SALIENCY_EDGE pixels a side, for a cover crop's
    interest map when no smaller rendition exists yet (as crop.measure_interest shrinks)."""
    scale = min(1.0, SALIENCY_EDGE / max(image.size))
    small = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                         Image.Resampling.BOX)
    return upright(small, orientation)
