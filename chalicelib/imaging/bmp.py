"""A small BMP decoder for the valid layouts Pillow refuses or misreads.

Pillow knows a handful of bitfield masks and no RLE24, BI_ALPHABITFIELDS or
2-bit palettes, and it reads a BI_RGB 32-bit BMP whose V4/V5 header names an
alpha mask as opaque. Browsers show all of them. `handles(data)` says, from
the header alone, whether a file needs this decoder; `decode` turns it into a
PIL image (RGB, RGBA or P). Everything else stays with Pillow.

Hostile input: the header is checked before anything is allocated (pixel
count against the caller's limit, row stride against the bytes present),
every read is bounds-checked, and the pixel work is done by Pillow's C code
(raw unpackers, ImageMath) except RLE24's runs, which are bounded by the
output size. Failures raise the domain errors with a sentence for a person.
"""

import struct
from dataclasses import dataclass

from PIL import Image, ImageMath

from chalicelib.errors import CorruptImageError, TooManyPixelsError, UnsupportedFormatError

BI_RGB, BI_RLE8, BI_RLE4, BI_BITFIELDS, BI_RLE24, BI_JPEG, BI_PNG, BI_ALPHABITFIELDS = 0, 1, 2, 3, 4, 4, 5, 6
# Header sizes: OS/2 1.x (12), OS/2 2.x (16 or 64), BITMAPINFOHEADER (40), V2/V3 (52/56), V4, V5.
_HEADERS = (12, 16, 40, 52, 56, 64, 108, 124)
# (bpp, R, G, B, A) masks Pillow's BmpImagePlugin decodes itself (its MASK_MODES).
_PILLOW_MASKS = {
    (32, 0xFF0000, 0xFF00, 0xFF, 0x0),
    (32, 0xFF000000, 0xFF0000, 0xFF00, 0x0),
    (32, 0xFF000000, 0xFF00, 0xFF, 0x0),
    (32, 0xFF000000, 0xFF0000, 0xFF00, 0xFF),
    (32, 0xFF, 0xFF00, 0xFF0000, 0xFF000000),
    (32, 0xFF0000, 0xFF00, 0xFF, 0xFF000000),
    (32, 0xFF000000, 0xFF00, 0xFF, 0xFF0000),
    (32, 0x0, 0x0, 0x0, 0x0),
    (24, 0xFF0000, 0xFF00, 0xFF, 0x0),
    (16, 0xF800, 0x7E0, 0x1F, 0x0),
    (16, 0x7C00, 0x3E0, 0x1F, 0x0),
}
_DEFAULT_MASKS = {
    16: (0x7C00, 0x3E0, 0x1F, 0), 24: (0xFF0000, 0xFF00, 0xFF, 0), 32: (0xFF0000, 0xFF00, 0xFF, 0),
}
_PALETTE_RAW = {1: "P;1", 2: "P;2", 4: "P;4", 8: "P"}
# Past this, a side is not a picture but an attack on the arithmetic (browsers stop near here too).
_MAX_SIDE = 1 << 20


@dataclass(frozen=True)
class Header:
    width: int
    height: int  # always positive; `top_down` says the row order
    top_down: bool
    bpp: int
    compression: int
    masks: tuple[int, int, int, int]  # R, G, B, A (0: no such channel)
    palette: bytes  # RGB triples
    pixels_at: int
    header_size: int


def _u32(data: bytes, at: int) -> int:
    return struct.unpack_from("<I", data, at)[0]


def read_header(data: bytes) -> Header:
    """The layout of a BMP, checked for sense; raises CorruptImageError or
    UnsupportedFormatError. Reads only the headers, masks and palette."""
    if len(data) < 18 or data[:2] != b"BM":
        raise CorruptImageError("The BMP file is too short to hold its header.")
    pixels_at = _u32(data, 10)
    size = _u32(data, 14)
    if size not in _HEADERS:
        raise UnsupportedFormatError(f"BMP with a {size}-byte header is not supported.")
    if len(data) < 14 + size:
        raise CorruptImageError("The BMP file ends inside its header.")
    if size == 12:
        width, height, _, bpp = struct.unpack_from("<HHHH", data, 18)
        compression = BI_RGB
    else:
        width, height, _, bpp = struct.unpack_from("<iiHH", data, 18)
        compression = _u32(data, 30) if size >= 20 else BI_RGB
    top_down = height < 0
    height = abs(height)
    if width <= 0 or height <= 0 or width > _MAX_SIDE or height > _MAX_SIDE:
        raise CorruptImageError("The BMP header declares an impossible size.")
    masks = (0, 0, 0, 0)
    after = 14 + size
    if size >= 52 and compression in (BI_BITFIELDS, BI_ALPHABITFIELDS, BI_RGB):
        masks = struct.unpack_from("<4I", data, 54)
        if size == 52:
            masks = masks[:3] + (0,)
    elif size == 40 and compression in (BI_BITFIELDS, BI_ALPHABITFIELDS):
        count = 4 if compression == BI_ALPHABITFIELDS else 3
        if len(data) < after + 4 * count:
            raise CorruptImageError("The BMP file ends inside its colour masks.")
        masks = struct.unpack_from(f"<{count}I", data, after) + ((0,) if count == 3 else ())
        after += 4 * count
    if bpp == 0 and compression in (BI_JPEG, BI_PNG):  # the pixels are a whole JPEG or PNG file
        raise UnsupportedFormatError(f"BMP with embedded {'PNG' if compression == BI_PNG else 'JPEG'} data "
                                     "is not supported.")
    palette = b""
    if bpp <= 8:
        if bpp not in _PALETTE_RAW:
            raise UnsupportedFormatError(f"{bpp}-bit BMP is not supported.")
        entry = 3 if size == 12 else 4
        used = _u32(data, 46) if size >= 40 else 0
        count = min(used or 1 << bpp, 1 << bpp)
        table = data[after : min(after + entry * count, pixels_at)]
        palette = b"".join(table[i : i + 3][::-1] for i in range(0, len(table) - entry + 1, entry))
    return Header(width, height, top_down, bpp, compression, masks, palette, pixels_at, size)


def unsupported_feature(data: bytes) -> str | None:
    """For a BMP neither Pillow nor this decoder opens: the feature to name
    when the header is sound but of a kind not decoded (a header size between
    the known ones, embedded JPEG or PNG data); None when it is damaged."""
    try:
        header = read_header(data)
    except UnsupportedFormatError as exc:
        return exc.message if 12 <= _u32(data, 14) <= 124 else None  # a plausible header
    except CorruptImageError:
        return None
    if header.compression == BI_PNG:
        return "BMP with embedded PNG data is not supported."
    if header.compression == BI_JPEG and header.bpp != 24:
        return "BMP with embedded JPEG data is not supported."
    return None


def handles(data: bytes) -> bool:
    """Whether this BMP needs this decoder: a layout Pillow refuses, or one it misreads."""
    try:
        header = read_header(data)
    except (CorruptImageError, UnsupportedFormatError):
        return False  # Pillow's verdict (and message) stands
    if header.compression == BI_RLE24 and header.bpp == 24:
        return True
    if header.compression == BI_ALPHABITFIELDS:
        return True
    if header.compression == BI_RGB:
        # A V3+ header that names an alpha mask: browsers show the alpha of 32-bit pixels.
        return header.bpp == 2 or (header.bpp == 32 and header.header_size >= 56 and header.masks[3] != 0)
    if header.compression == BI_BITFIELDS:
        return header.bpp in (16, 32) and (header.bpp, *header.masks) not in _PILLOW_MASKS
    return False


def decode(data: bytes, max_pixels: int) -> Image.Image:
    """Decode a BMP into RGB, RGBA or P. Raises TooManyPixelsError past
    `max_pixels`, UnsupportedFormatError for layouts it does not know, and
    CorruptImageError for data that does not hold the picture it declares."""
    header = read_header(data)
    if header.width * header.height > max_pixels:
        raise TooManyPixelsError(
            f"The image is {header.width}x{header.height} = {header.width * header.height} pixels; "
            f"the limit is {max_pixels}."
        )
    if header.pixels_at >= len(data):
        raise CorruptImageError("The BMP file ends before its pixels begin.")
    if header.compression == BI_RLE24:
        if header.bpp != 24:
            raise UnsupportedFormatError("BMP with embedded JPEG data is not supported.")
        image = _rle24(data, header)
    elif header.compression == BI_RGB and header.bpp <= 8:
        image = _palette(data, header)
    elif header.compression in (BI_RGB, BI_BITFIELDS, BI_ALPHABITFIELDS) and header.bpp in (16, 32):
        masks = header.masks
        if header.compression == BI_RGB:
            masks = _DEFAULT_MASKS[header.bpp][:3] + (masks[3] if header.bpp == 32 else 0,)
        image = _bitfields(data, header, masks)
    elif header.compression == BI_PNG:
        raise UnsupportedFormatError("BMP with embedded PNG data is not supported.")
    else:
        raise UnsupportedFormatError(
            f"{header.bpp}-bit BMP with compression {header.compression} is not supported."
        )
    image.format = "BMP"
    return image


def _stride(header: Header) -> int:
    return (header.width * header.bpp + 31) // 32 * 4


def _rows(data: bytes, header: Header) -> bytes:
    """The uncompressed pixel rows, checked to be all there."""
    end = header.pixels_at + _stride(header) * header.height
    if end > len(data):
        raise CorruptImageError("The BMP file ends before its last row of pixels.")
    return data[header.pixels_at : end]


def _raw(mode: str, header: Header, rows: bytes, rawmode: str) -> Image.Image:
    # Bottom-up rows (the usual order) are read with a negative row step.
    return Image.frombuffer(mode, (header.width, header.height), rows, "raw", rawmode, _stride(header),
                            1 if header.top_down else -1)


def _palette(data: bytes, header: Header) -> Image.Image:
    image = _raw("P", header, _rows(data, header), _PALETTE_RAW[header.bpp])
    palette = header.palette + b"\0" * (768 - len(header.palette))  # missing entries are black
    image.putpalette(palette[:768])
    return image.copy()  # frombuffer shares `data`; the caller's bytes may go


def _channel(words: Image.Image, mask: int) -> Image.Image:
    """One channel of `words` (mode I) scaled from its mask's bit width to 8 bits."""
    shift = (mask & -mask).bit_length() - 1
    bits = (mask >> shift).bit_length()
    if mask >> shift != (1 << bits) - 1:
        raise UnsupportedFormatError("BMP colour masks with gaps in them are not supported.")
    top = (1 << bits) - 1
    # Shift first, then mask: an arithmetic shift of a sign-extended 32-bit word leaves ones on the left.
    values = ImageMath.lambda_eval(lambda a: (a["w"] >> shift) & top, w=words)
    if bits == 8:
        return values.convert("L")
    return values.point(lambda v: v * (255 / top) + 0.5).convert("L")


def _bitfields(data: bytes, header: Header, masks: tuple[int, int, int, int]) -> Image.Image:
    red, green, blue, alpha = masks
    if not (red and green and blue):
        raise UnsupportedFormatError("BMP without a red, green and blue mask is not supported.")
    used = red | green | blue | alpha
    overlap = (red & green) or (red & blue) or (green & blue) or (alpha & (red | green | blue))
    if used >> header.bpp or overlap:
        raise CorruptImageError("The BMP colour masks overlap or do not fit the pixel size.")
    if header.bpp == 16:
        words = _raw("I;16", header, _rows(data, header), "I;16").convert("I")
    else:
        words = _raw("I", header, _rows(data, header), "I;32")
    bands = [_channel(words, mask) for mask in (red, green, blue)]
    if alpha:
        opacity = _channel(words, alpha)
        # Browsers' rule: a 32-bit BMP whose alpha is zero everywhere is opaque (writers leave it unset).
        if opacity.getextrema() != (0, 0):
            return Image.merge("RGBA", (*bands, opacity))
    return Image.merge("RGB", bands)


def _rle24(data: bytes, header: Header) -> Image.Image:
    """OS/2 RLE24: (count, B, G, R) runs; escapes 0 0 (end of line), 0 1 (end
    of bitmap), 0 2 dx dy (skip), 0 n (n literal pixels, padded to 16 bits).
    Skipped pixels stay black, as in Windows. Runs past a row's end are cut off."""
    width, height = header.width, header.height
    out = bytearray(width * height * 3)
    x = y = 0
    at, end = header.pixels_at, len(data)
    while y < height:
        if at + 2 > end:
            raise CorruptImageError("The BMP's compressed pixels end before the picture does.")
        count, value = data[at], data[at + 1]
        at += 2
        if count:  # a run of one colour
            if at + 2 > end:
                raise CorruptImageError("The BMP's compressed pixels end before the picture does.")
            blue, green, red = value, data[at], data[at + 1]  # stored B G R
            at += 2
            n = min(count, width - x)
            if n > 0:
                start = (y * width + x) * 3
                out[start : start + 3 * n] = bytes((red, green, blue)) * n
            x += count
        elif value == 0:
            x, y = 0, y + 1
        elif value == 1:
            break
        elif value == 2:
            if at + 2 > end:
                raise CorruptImageError("The BMP's compressed pixels end before the picture does.")
            x, y = x + data[at], y + data[at + 1]
            at += 2
        else:  # `value` literal pixels
            size = value * 3
            if at + size > end:
                raise CorruptImageError("The BMP's compressed pixels end before the picture does.")
            n = max(0, min(value, width - x))
            if n:
                literal = data[at : at + 3 * n]
                start = (y * width + x) * 3
                # B G R → R G B without a per-byte Python loop: Pillow's BGR unpacker.
                pixels = Image.frombuffer("RGB", (n, 1), literal, "raw", "BGR", 0, 1)
                out[start : start + 3 * n] = pixels.tobytes()
            x += value
            at += size + (size & 1)
    image = Image.frombytes("RGB", (width, height), bytes(out))
    return image if header.top_down else image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
