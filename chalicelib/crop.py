"""Where a `cover` crop goes: on the uploader's focal point, or on what is
most likely to draw the eye (saliency) when none was given.

Pure Pillow, like imaging.py. A cover crop only ever trims one axis (the box
and the picture differ in aspect ratio), so the choice is one offset along
that axis: keep the window with the most "interest" in it. Interest is
measured on a copy of at most SALIENCY_EDGE pixels a side, so the decision
costs a few milliseconds whatever the picture's size.
"""

from dataclasses import dataclass

from PIL import Image, ImageChops, ImageFilter, ImageOps

Point = tuple[float, float]  # (x, y), each 0..1 of the width and height
Box = tuple[float, float, float, float]

SALIENCY_EDGE = 96
CENTRE: Point = (0.5, 0.5)

# Skin tones, as libvips' attention crop also weighs them: a box in YCbCr
# (Chai & Ngan's ranges), so a face beats a textured background.
_CB = (77, 127)
_CR = (133, 173)


def place_crop(size: tuple[int, int], crop: tuple[float, float], focus: Point) -> Box:
    """The crop window of `crop` size in a picture of `size`, centred on
    `focus` as far as the picture's edges allow."""
    width, height = size
    crop_w, crop_h = min(crop[0], width), min(crop[1], height)
    left = min(max(focus[0] * width - crop_w / 2, 0.0), width - crop_w)
    top = min(max(focus[1] * height - crop_h / 2, 0.0), height - crop_h)
    return (left, top, left + crop_w, top + crop_h)


@dataclass(frozen=True)
class Interest:
    """How much each column and each row of a picture draws the eye (means of
    the interest map), enough to place any cover crop of that picture."""

    columns: tuple[float, ...]
    rows: tuple[float, ...]

    def focus(self, size: tuple[int, int], crop: tuple[float, float]) -> Point:
        """The focal point of the most interesting `crop`-sized window."""
        return (_best_centre(self.columns, crop[0] / size[0]), _best_centre(self.rows, crop[1] / size[1]))


def measure_interest(picture: Image.Image) -> Interest:
    """Edges, saturation and skin tones of a small copy of `picture`."""
    small = picture.copy()
    small.thumbnail((SALIENCY_EDGE, SALIENCY_EDGE), Image.Resampling.BOX)
    rgb = small.convert("RGB")
    # The edge filter sees a step at the picture's own border: blank that out.
    edges = ImageOps.expand(ImageOps.crop(rgb.convert("L").filter(ImageFilter.FIND_EDGES), 1), 1, 0)
    saturation = rgb.convert("HSV").getchannel("S").point(lambda v: v // 2)
    _, cb, cr = rgb.convert("YCbCr").split()
    skin = ImageChops.multiply(
        cb.point(lambda v: 255 if _CB[0] <= v <= _CB[1] else 0),
        cr.point(lambda v: 255 if _CR[0] <= v <= _CR[1] else 0),
    )
    score = ImageChops.add(ImageChops.add(edges, saturation), skin.point(lambda v: v // 2))
    # BOX-resizing to one row (column) gives each column's (row's) mean exactly.
    columns = score.resize((score.width, 1), Image.Resampling.BOX).tobytes()
    rows = score.resize((1, score.height), Image.Resampling.BOX).tobytes()
    return Interest(tuple(map(float, columns)), tuple(map(float, rows)))


def _best_centre(profile: tuple[float, ...], fraction: float) -> float:
    """The centre (0..1) of the `fraction`-wide window with the largest sum;
    the most central one among equals, so a flat picture keeps a centred crop."""
    count = len(profile)
    window = max(1, round(fraction * count))
    if window >= count:
        return 0.5
    sums = [sum(profile[:window])]
    for start in range(1, count - window + 1):
        sums.append(sums[-1] + profile[start + window - 1] - profile[start - 1])
    best = max(sums)
    centres = [(start + window / 2) / count for start, value in enumerate(sums) if value >= best - 1e-6]
    return min(centres, key=lambda centre: abs(centre - 0.5))
