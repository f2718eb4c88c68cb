"""Placeholders a client can paint before any rendition arrives.

A BlurHash string (https://blurha.sh, 4×3 components) and the dominant colour,
both computed from an already small rendition shrunk to at most 32 px, so they
cost about a millisecond. Pure Python and Pillow: no numpy on Lambda.
"""

import math
from operator import mul
from typing import cast

from PIL import Image

from chalicelib.imaging.encode import flatten_on_white
from chalicelib.imaging.types import Placeholder

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"
_COMPONENTS = (4, 3)  # along the longer side, along the shorter
_SIDE = 32


def make_placeholder(image: Image.Image) -> Placeholder:
    """`image` is any L, RGB or RGBA picture in sRGB; transparency is shown on white."""
    small = image.copy()
    small.thumbnail((_SIDE, _SIDE), Image.Resampling.BOX)
    small = flatten_on_white(small).convert("RGB")
    cx, cy = _COMPONENTS if small.width >= small.height else _COMPONENTS[::-1]
    return Placeholder(blurhash(small, cx, cy), _dominant_color(small))


def _dominant_color(image: Image.Image) -> str:
    """The most common of five median-cut colours: the background of most
    photos, rather than a muddy average of everything."""
    palette_image = image.quantize(colors=5, method=Image.Quantize.MEDIANCUT)
    # A P image's colours are (count, palette index) pairs; quantize() always gives it a palette.
    _, index = max(cast("list[tuple[int, int]]", palette_image.getcolors()))
    r, g, b = cast("list[int]", palette_image.getpalette())[index * 3 : index * 3 + 3]
    return f"#{r:02x}{g:02x}{b:02x}"


def _to_linear(value: int) -> float:
    v = value / 255
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4


def _to_srgb(value: float) -> int:
    v = max(0.0, min(1.0, value))
    return round((v * 12.92 if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055) * 255)


def _base83(value: int, length: int) -> str:
    return "".join(_ALPHABET[(value // 83 ** (length - 1 - i)) % 83] for i in range(length))


def blurhash(image: Image.Image, cx: int, cy: int) -> str:
    """BlurHash of an RGB image, following the reference encoder (woltapp/blurhash)."""
    width, height = image.size
    lut = [_to_linear(v) for v in range(256)]
    data = image.tobytes()
    pixels = [[lut[v] for v in data[i::3]] for i in range(3)]  # linear R, G, B planes
    cos_x = [[math.cos(math.pi * i * x / width) for x in range(width)] for i in range(cx)]
    cos_y = [[math.cos(math.pi * j * y / height) for y in range(height)] for j in range(cy)]
    # Separable: sum each row against cos_x first, then the row sums against cos_y.
    rows = [
        [[sum(map(mul, basis, plane[y * width : (y + 1) * width])) for y in range(height)]
         for plane in pixels]
        for basis in cos_x
    ]
    factors = []
    for j in range(cy):
        for i in range(cx):
            norm = (1 if i == j == 0 else 2) / (width * height)
            factors.append([norm * sum(map(mul, cos_y[j], row)) for row in rows[i]])

    dc, ac = factors[0], factors[1:]
    parts = [_base83((cx - 1) + (cy - 1) * 9, 1)]
    if ac:
        actual_max = max(abs(v) for f in ac for v in f)
        quantised = max(0, min(82, math.floor(actual_max * 166 - 0.5)))
        maximum = (quantised + 1) / 166
        parts.append(_base83(quantised, 1))
    else:
        maximum = 1.0
        parts.append(_base83(0, 1))
    r, g, b = (_to_srgb(v) for v in dc)
    parts.append(_base83((r << 16) + (g << 8) + b, 4))
    for f in ac:
        q = [max(0, min(18, math.floor(math.copysign(abs(v / maximum) ** 0.5, v) * 9 + 9.5))) for v in f]
        parts.append(_base83(q[0] * 19 * 19 + q[1] * 19 + q[2], 2))
    return "".join(parts)
