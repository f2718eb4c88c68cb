"""A PNG's colour key (tRNS on a greyscale or RGB image) as an alpha channel.

Pillow keeps the key in `info["transparency"]` and leaves the pixels opaque;
worse, it reports the key inconsistently: unscaled for 2- and 4-bit grey (a
4-bit key of 15 while pixels are scaled to 0-255), scaled for 1-bit, and for
16-bit RGB as a 16-bit triple while the pixels it decoded are 8-bit. So the
key is read here from the file's own tRNS chunk, scaled the way Pillow
scaled the pixels, and 16-bit RGB is matched on all 16 bits (a colour one
step from the key stays opaque, as in browsers): the low bytes are decoded
a second time through Pillow's little-endian unpacker.
"""

import io
import struct

from PIL import Image, ImageChops, ImageMath

_GREY, _RGB = 0, 2
_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def colour_key(data: bytes) -> tuple[int, int, tuple[int, ...]] | None:
    """(bit depth, colour type, key samples) of a greyscale or RGB PNG with a
    tRNS chunk, or None. Reads chunk headers up to the first IDAT, bounds-checked."""
    if not data.startswith(_SIGNATURE) or len(data) < 33 or data[12:16] != b"IHDR":
        return None
    depth, colour_type = data[24], data[25]
    if colour_type not in (_GREY, _RGB):
        return None
    offset = 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, offset)
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"IDAT" or len(body) < length:
            return None
        if kind == b"tRNS":
            count = 1 if colour_type == _GREY else 3
            if length < 2 * count:
                return None
            return depth, colour_type, struct.unpack_from(f">{count}H", body)
        offset += 12 + length
    return None


def colour_key_to_alpha(image: Image.Image, data: bytes) -> Image.Image:
    """`image` (the loaded PNG Pillow opened from `data`) with its colour key
    turned into alpha: LA for greyscale, RGBA for RGB (16-bit grey scaled to
    8 bits). Any other image, or one without a key, is returned unchanged."""
    key = colour_key(data)
    if key is None or image.mode not in ("1", "L", "I;16", "I;16B", "I", "RGB"):
        return image
    depth, colour_type, samples = key
    top = (1 << depth) - 1
    if any(s > top for s in samples):
        return image  # a key no pixel can have: nothing is transparent
    if colour_type == _GREY:
        keyed = _grey(image, depth, samples[0])
    elif depth == 16:
        keyed = _rgb16(image, data, samples)
    else:
        keyed = Image.merge("RGBA", (*image.split(), _differs(list(image.split()), list(samples))))
    # The rest (the ICC profile, which colour management still needs) stays; the key is spent.
    keyed.info = {name: value for name, value in image.info.items() if name != "transparency"}
    return keyed


def _grey(image: Image.Image, depth: int, key: int) -> Image.Image:
    if depth == 16:
        words = image.convert("I")
        opaque = ImageMath.lambda_eval(lambda a: (a["v"] != key) * 255, v=words).convert("L")
        # As imaging._normalise scales 16-bit grey: 65535 → 255 (convert("L") would clip).
        grey = words.point(lambda v: v * (1 / 257)).convert("L")
        return Image.merge("LA", (grey, opaque))
    grey = image.convert("L")  # 1-bit comes as mode 1; lower depths are already scaled to 0-255
    level = key * 255 // ((1 << depth) - 1)
    return Image.merge("LA", (grey, grey.point(lambda v: 0 if v == level else 255)))


def _differs(bands: list[Image.Image], key: list[int]) -> Image.Image:
    """255 where any band differs from its key value, 0 where every band matches."""
    matches = None
    for band, value in zip(bands, key):
        same = band.point(lambda v, value=value: 255 if v == value else 0)
        matches = same if matches is None else ImageChops.darker(matches, same)
    return ImageChops.invert(matches)


def _rgb16(image: Image.Image, data: bytes, key: tuple[int, ...]) -> Image.Image:
    """Pillow decoded the high bytes (RGB;16B); decode the low ones too and match both."""
    low = Image.open(io.BytesIO(data), formats=["PNG"])
    low.tile = [tile._replace(args="RGB;16L") for tile in low.tile]  # second byte of each pair
    low.load()
    bands = list(image.split()) + list(low.split())
    opaque = _differs(bands, [k >> 8 for k in key] + [k & 0xFF for k in key])
    return Image.merge("RGBA", (*image.split(), opaque))
