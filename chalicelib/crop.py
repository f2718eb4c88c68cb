"""Where a `cover` crop goes: on the uploader's focal point, or on what is
most likely to draw the eye (saliency) when none was given.

Pure Pillow, like chalicelib/imaging. A cover crop only ever trims one axis (the box
and the picture differ in aspect ratio), so the choice is one offset along
that axis: keep the window with the most "interest" in it. Interest is
measured on a copy of at most SALIENCY_EDGE pixels a side, so the decision
costs a few milliseconds whatever the picture's size.
"""

from dataclasses import dataclass

from PIL import Image, ImageChops, ImageDraw, ImageFilter

Point = tuple[float, float]  # (x, y), each 0..1 of the width and height
Box = tuple[float, float, float, float]

SALIENCY_EDGE = 96
CENTRE: Point = (0.5, 0.5)

# Skin tones, as libvips' attention crop also weighs them: a box in YCbCr
# (Chai & Ngan's ranges), so a face beats a textured background.
_CB = (77, 127)
_CR = (133, 173)


def place_crop(size: tuple[float, float], crop: tuple[float, float], focus: Point) -> Box:
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

    def focus(self, size: tuple[float, float], crop: tuple[float, float]) -> Point:
        """The focal point of the most interesting `crop`-sized window."""
        return (_best_centre(self.columns, crop[0] / size[0]), _best_centre(self.rows, crop[1] / size[1]))


class Framing:
    """The focal point of one picture's cover crops: the uploader's, or that of
    the most interesting window, measured once on the first picture offered."""

    def __init__(self, focus: Point | None = None) -> None:
        self._focus = focus
        self._interest: Interest | None = None

    def centre(self, size: tuple[float, float], crop: tuple[float, float], picture: Image.Image) -> Point:
        if self._focus is not None:
            return self._focus
        if self._interest is None:
            self._interest = measure_interest(picture)
        return self._interest.focus(size, crop)


def measure_interest(picture: Image.Image) -> Interest:
    """Edges, saturation and skin tones of a small copy of `picture`."""
    scale = min(1.0, SALIENCY_EDGE / max(picture.size))
    small = picture.resize((max(1, round(picture.width * scale)), max(1, round(picture.height * scale))),
                           Image.Resampling.BOX)
    rgb = small.convert("RGB")
    # The edge filter sees a step at the picture's own border: blank that out.
    edges = rgb.convert("L").filter(ImageFilter.FIND_EDGES)
    ImageDraw.Draw(edges).rectangle((0, 0, edges.width - 1, edges.height - 1), outline=0)
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
    """The centre (0..1) of the `fraction`-wide window with (nearly) the
    largest sum; among those, the one that best centres what it holds, then
    the most central, so a flat picture keeps a centred crop."""
    count = len(profile)
    window = max(1, round(fraction * count))
    if window >= count:
        return 0.5
    sums = [sum(profile[:window])]
    for start in range(1, count - window + 1):
        sums.append(sums[-1] + profile[start + window - 1] - profile[start - 1])
    best = max(sums)

    def off_centre(start: int) -> float:
        inside = profile[start:start + window]
        total = sum(inside)
        if total <= 0:
            return 0.0
        return round(abs(sum((i + 0.5) * v for i, v in enumerate(inside)) / total - window / 2), 3)

    candidates = [start for start, value in enumerate(sums) if value >= best * 0.98 - 1e-9]
    start = min(candidates, key=lambda s: (off_centre(s), abs((s + window / 2) / count - 0.5)))
    return (start + window / 2) / count
