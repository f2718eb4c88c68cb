"""Test images whose true pixels are known, for tests/test_reference.py.

Each `Sample` carries the file's bytes and `truth`: the frames as a viewer
should show them (upright, sRGB, RGBA where the file has transparency), made
from the same numbers the writer packed. Pillow writes what it can; the PNG,
BMP, GIF, TIFF and ICC writers here are small and our own, for the layouts
Pillow cannot write (colour keys at every bit depth, bitfield and RLE BMPs,
frames that miss a GIF's logical screen, float and CIELab TIFFs).
`python -m tests.reference_images DIR` writes every sample to DIR.
"""

import io
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFilter

WIDTH, HEIGHT = 48, 32


@dataclass(frozen=True)
class Sample:
    name: str  # a file name, with the extension a viewer expects
    kind: str  # the class of issue 19 it belongs to
    data: bytes
    truth: list[Image.Image]  # frames, each RGB or RGBA, as a browser shows them
    # How far (mean absolute level difference, 0-255) a correct rendition may
    # stray from the truth: quantisation of the file's own samples, lossy codecs.
    tolerance: float = 4.0
    notes: str = ""
    # Whether libvips shows this file as browsers do (tests/reference.py):
    # not APNG (its PNG loader sees one frame) nor GIFs whose frames miss the
    # logical screen (it grows the canvas and paints the background colour).
    vips_agrees: bool = True

    @property
    def alpha(self) -> bool:
        return any(f.mode == "RGBA" and f.getchannel("A").getextrema()[0] < 255 for f in self.truth)


# --- the picture every still sample shows -------------------------------------------------


def colour_at(x: int, y: int, width: int = WIDTH, height: int = HEIGHT) -> tuple[int, int, int]:
    """Quadrants of distinct hues with a gentle horizontal ramp, so a swapped
    channel, a flipped row order or a wrong scale all move the mean."""
    ramp = x * 40 // max(1, width - 1)
    top, left = y < height // 2, x < width // 2
    if top and left:
        return (215 - ramp, 30 + ramp // 2, 40)
    if top:
        return (40, 190 - ramp, 60 + ramp)
    if left:
        return (50 + ramp, 60, 200 - ramp)
    return (225 - ramp, 215 - ramp // 2, 35 + ramp)


def alpha_at(x: int, y: int, width: int = WIDTH, height: int = HEIGHT) -> int:
    """Opaque left half; on the right a clear square and a half-transparent band."""
    if x < width // 2:
        return 255
    if y < height // 2:
        return 0 if x >= width * 3 // 4 else 255
    return 128


def picture(width: int = WIDTH, height: int = HEIGHT, alpha: bool = False) -> Image.Image:
    image = Image.new("RGBA" if alpha else "RGB", (width, height))
    image.putdata([
        colour_at(x, y, width, height) + ((alpha_at(x, y, width, height),) if alpha else ())
        for y in range(height) for x in range(width)
    ])
    return image


def _encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


# --- PNG with a colour key (tRNS) at every bit depth ---------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _pack_row(samples: list[int], depth: int) -> bytes:
    if depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    if depth == 8:
        return bytes(samples)
    per_byte = 8 // depth
    out = bytearray()
    for i in range(0, len(samples), per_byte):
        byte = 0
        for j, s in enumerate(samples[i : i + per_byte]):
            byte |= s << (8 - depth * (j + 1))
        out.append(byte)
    return bytes(out)


def write_png(width: int, height: int, colour_type: int, depth: int, rows: list[list[int]],
              chunks: bytes = b"") -> bytes:
    """A PNG of `rows` (a list of samples per row, channels interleaved), no filter."""
    raw = b"".join(b"\0" + _pack_row(row, depth) for row in rows)
    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + chunks
            + _png_chunk(b"IDAT", zlib.compress(raw, 9)) + _png_chunk(b"IEND", b""))


def _keyed(x: int, y: int) -> bool:
    """Where a colour-keyed sample shows its key: a centred rectangle."""
    return WIDTH // 4 <= x < WIDTH * 3 // 4 and HEIGHT // 4 <= y < HEIGHT * 3 // 4


def grey_trns_png(depth: int) -> Sample:
    """Greyscale with a tRNS key of the largest sample value (15 at 4 bits:
    the value Pillow reports unscaled while the pixels are scaled to 255)."""
    top = (1 << depth) - 1
    key = top
    rows, truth = [], Image.new("RGBA", (WIDTH, HEIGHT))
    for y in range(HEIGHT):
        row = []
        for x in range(WIDTH):
            value = key if _keyed(x, y) else min(top, (x + y) * (top + 1) // (WIDTH + HEIGHT))
            if value == key and not _keyed(x, y):
                value = key - 1
            row.append(value)
            level = round(value * 255 / top)
            truth.putpixel((x, y), (level, level, level, 0 if value == key else 255))
        rows.append(row)
    data = write_png(WIDTH, HEIGHT, 0, depth, rows, _png_chunk(b"tRNS", struct.pack(">H", key)))
    return Sample(f"grey{depth}-trns.png", "png-trns", data, [truth], tolerance=2.0)


def rgb_trns_png(depth: int) -> Sample:
    top = (1 << depth) - 1
    key = (top, 0, top)  # magenta, which the picture never shows
    rows, truth = [], Image.new("RGBA", (WIDTH, HEIGHT))
    for y in range(HEIGHT):
        row = []
        for x in range(WIDTH):
            if _keyed(x, y):
                samples = key
            else:
                samples = tuple(round(c * top / 255) for c in colour_at(x, y))
            row += samples
            truth.putpixel((x, y), tuple(round(s * 255 / top) for s in samples)
                           + ((0 if samples == key else 255),))
        rows.append(row)
    data = write_png(WIDTH, HEIGHT, 2, depth, rows, _png_chunk(b"tRNS", struct.pack(">3H", *key)))
    return Sample(f"rgb{depth}-trns.png", "png-trns", data, [truth], tolerance=2.0)


# --- BMP: bitfields of any mask, alpha, RLE24, 2-bit palettes -------------------------------

BI_RGB, BI_RLE8, BI_RLE4, BI_BITFIELDS, BI_RLE24, BI_ALPHABITFIELDS = 0, 1, 2, 3, 4, 6
_LCS_SRGB = 0x73524742


def write_bmp(width: int, height: int, bpp: int, pixels: bytes, compression: int = BI_RGB,
              masks: tuple[int, ...] = (), palette: list[tuple[int, int, int]] = (),
              header_size: int = 40) -> bytes:
    """A BMP with a BITMAPINFOHEADER (40), OS/2 2.x (64), V4 (108) or V5 (124)
    header. `masks` go inside a V4/V5 header, after a 40-byte one."""
    info = struct.pack("<IiiHHIIiiII", header_size, width, height, 1, bpp, compression,
                       len(pixels), 2835, 2835, len(palette), 0)
    after = b""
    if header_size == 64:
        info += b"\0" * 24
    elif header_size >= 108:
        info += struct.pack("<4I", *(tuple(masks) + (0, 0, 0, 0))[:4]) + struct.pack("<I", _LCS_SRGB)
        info += b"\0" * 36 + b"\0" * 12
        if header_size == 124:
            info += struct.pack("<4I", 4, 0, 0, 0)  # LCS_GM_IMAGES, no profile
    else:
        after = b"".join(struct.pack("<I", m) for m in masks)
    assert len(info) == header_size
    table = b"".join(bytes((b, g, r, 0)) for r, g, b in palette)
    offset = 14 + header_size + len(after) + len(table)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + after + table + pixels


def _shift(mask: int) -> tuple[int, int]:
    shift = (mask & -mask).bit_length() - 1 if mask else 0
    return shift, bin(mask).count("1")


def _to_field(value: int, mask: int) -> tuple[int, int]:
    """An 8-bit value packed into `mask`, and the 8-bit value a viewer shows for it."""
    if not mask:
        return 0, 255
    shift, bits = _shift(mask)
    top = (1 << bits) - 1
    stored = round(value * top / 255)
    return stored << shift, round(stored * 255 / top)


def bitfields_bmp(name: str, bpp: int, masks: tuple[int, ...], compression: int = BI_BITFIELDS,
                  header_size: int = 40, kind: str = "bmp-bitfields") -> Sample:
    """`picture()` packed into `masks` (R, G, B[, A]); with an alpha mask, `alpha_at` too."""
    with_alpha = len(masks) == 4 and masks[3] != 0
    truth = Image.new("RGBA" if with_alpha else "RGB", (WIDTH, HEIGHT))
    rows = []
    for y in range(HEIGHT):
        row = bytearray()
        for x in range(WIDTH):
            channels = colour_at(x, y) + ((alpha_at(x, y),) if with_alpha else ())
            word, shown = 0, []
            for value, mask in zip(channels, masks):
                packed, seen = _to_field(value, mask)
                word |= packed
                shown.append(seen)
            row += word.to_bytes(bpp // 8, "little")
            truth.putpixel((x, y), tuple(shown))
        row += b"\0" * (-len(row) % 4)
        rows.append(bytes(row))
    pixels = b"".join(reversed(rows))  # bottom-up
    data = write_bmp(WIDTH, HEIGHT, bpp, pixels, compression, masks, header_size=header_size)
    return Sample(name, kind, data, [truth], tolerance=2.0)


def _rle24(rows: list[list[tuple[int, int, int]]]) -> bytes:
    """OS/2 RLE24: runs of one colour as (count, B, G, R); other stretches as
    absolute runs (0, n, n pixels, padded to 16 bits); 0 0 ends a line, 0 1 the bitmap."""
    out = bytearray()
    for row in rows:
        x = 0
        while x < len(row):
            run = 1
            while x + run < len(row) and run < 255 and row[x + run] == row[x]:
                run += 1
            if run >= 2:
                r, g, b = row[x]
                out += bytes((run, b, g, r))
                x += run
                continue
            end = x + 1
            while end < len(row) and end - x < 255 and (end + 1 >= len(row) or row[end] != row[end + 1]):
                end += 1
            count = end - x
            if count < 3:  # absolute runs need at least 3 pixels: write singles as runs of one
                for r, g, b in row[x:end]:
                    out += bytes((1, b, g, r))
            else:
                out += bytes((0, count)) + b"".join(bytes((b, g, r)) for r, g, b in row[x:end])
                if count * 3 % 2:
                    out += b"\0"
            x = end
        out += b"\0\0"
    return bytes(out[:-2]) + b"\0\1"


def rle24_bmp() -> Sample:
    """Posterised so that runs occur, with stretches of distinct pixels for absolute runs."""
    truth = Image.new("RGB", (WIDTH, HEIGHT))
    rows = []
    for y in range(HEIGHT):
        row = []
        for x in range(WIDTH):
            colour = tuple(c // 32 * 32 for c in colour_at(x, y))
            if 4 <= x % 11 <= 7:  # pixels one level apart: absolute runs, no hard edges
                colour = tuple(c + x % 11 for c in colour)
            row.append(colour)
            truth.putpixel((x, y), colour)
        rows.append(row)
    data = write_bmp(WIDTH, HEIGHT, 24, _rle24(list(reversed(rows))), BI_RLE24, header_size=64)
    return Sample("rle24.bmp", "bmp-rle24", data, [truth], tolerance=1.0)


_FOUR = [(20, 20, 20), (220, 40, 40), (40, 200, 60), (240, 240, 230)]


def two_bit_bmp() -> Sample:
    truth = Image.new("RGB", (WIDTH, HEIGHT))
    rows = []
    for y in range(HEIGHT):
        indices = [((x * 4 // WIDTH) + (y >= HEIGHT // 2)) % 4 for x in range(WIDTH)]
        for x, i in enumerate(indices):
            truth.putpixel((x, y), _FOUR[i])
        row = _pack_row(indices, 2)
        rows.append(row + b"\0" * (-len(row) % 4))
    data = write_bmp(WIDTH, HEIGHT, 2, b"".join(reversed(rows)), palette=_FOUR)
    return Sample("palette2.bmp", "bmp-2bit", data, [truth], tolerance=1.0)


def rgb32_alpha_bmp() -> Sample:
    """BI_RGB 32-bit with a V5 header whose alpha mask is set and real alpha
    in the fourth byte: Chromium and Firefox show the alpha."""
    sample = bitfields_bmp("v5-rgb32-alpha.bmp", 32, (0xFF0000, 0xFF00, 0xFF, 0xFF000000), header_size=124,
                           kind="bmp-alpha")
    data = bytearray(sample.data)
    data[14 + 16 : 14 + 20] = struct.pack("<I", BI_RGB)
    return Sample(sample.name, sample.kind, bytes(data), sample.truth, sample.tolerance)


def bmp_samples() -> list[Sample]:
    argb = (0xFF0000, 0xFF00, 0xFF, 0xFF000000)
    return [
        bitfields_bmp("v4-alpha.bmp", 32, argb, header_size=108, kind="bmp-alpha"),
        bitfields_bmp("v5-alpha.bmp", 32, argb, header_size=124, kind="bmp-alpha"),
        bitfields_bmp("v5-rgba-low-alpha.bmp", 32, (0xFF000000, 0xFF0000, 0xFF00, 0xFF), header_size=124,
                      kind="bmp-alpha"),
        rgb32_alpha_bmp(),
        bitfields_bmp("alphabitfields.bmp", 32, argb, compression=BI_ALPHABITFIELDS,
                      kind="bmp-alphabitfields"),
        bitfields_bmp("rgb16-565.bmp", 16, (0xF800, 0x7E0, 0x1F)),  # the layout Pillow knows
        bitfields_bmp("bgr16-565.bmp", 16, (0x1F, 0x7E0, 0xF800)),
        bitfields_bmp("rgb16-664.bmp", 16, (0xFC00, 0x3F0, 0xF)),
        bitfields_bmp("rgba16-4444.bmp", 16, (0xF00, 0xF0, 0xF, 0xF000), header_size=124),
        bitfields_bmp("rgb32-101010.bmp", 32, (0x3FF00000, 0xFFC00, 0x3FF)),
        rle24_bmp(),
        two_bit_bmp(),
    ]


# --- TIFF: 32-bit float RGB and 16-bit CIELab -----------------------------------------------


def write_tiff(width: int, height: int, samples_per_pixel: int, bits: int, photometric: int,
               sample_format: int, strip: bytes) -> bytes:
    """A little-endian, uncompressed, one-strip TIFF."""
    entries = []
    extra = b""
    data_at = 8
    ifd_at = data_at + len(strip)
    ifd_at += ifd_at % 2
    tag_count = 11
    extra_at = ifd_at + 2 + 12 * tag_count + 4

    def add(tag: int, kind: int, values: list[int]) -> None:
        nonlocal extra
        fmt = {3: "H", 4: "I"}[kind]
        packed = b"".join(struct.pack("<" + fmt, v) for v in values)
        if len(packed) <= 4:
            entries.append(struct.pack("<HHI", tag, kind, len(values)) + packed.ljust(4, b"\0"))
        else:
            entries.append(struct.pack("<HHII", tag, kind, len(values), extra_at + len(extra)))
            extra += packed

    add(256, 4, [width])
    add(257, 4, [height])
    add(258, 3, [bits] * samples_per_pixel)
    add(259, 3, [1])
    add(262, 3, [photometric])
    add(273, 4, [data_at])
    add(277, 3, [samples_per_pixel])
    add(278, 4, [height])
    add(279, 4, [len(strip)])
    add(284, 3, [1])
    add(339, 3, [sample_format] * samples_per_pixel)
    assert len(entries) == tag_count
    head = b"II*\0" + struct.pack("<I", ifd_at)
    body = strip + b"\0" * (ifd_at - data_at - len(strip))
    ifd = struct.pack("<H", tag_count) + b"".join(entries) + struct.pack("<I", 0)
    return head + body + ifd + extra


def _linear(level: int) -> float:
    v = level / 255
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4


def float_tiff() -> Sample:
    """32-bit float RGB, 0.0-1.0 in linear light (scRGB, as libvips and
    Photoshop read float TIFF): the picture's sRGB levels, linearised."""
    truth = picture()
    strip = b"".join(struct.pack("<3f", *(_linear(c) for c in truth.getpixel((x, y))))
                     for y in range(HEIGHT) for x in range(WIDTH))
    return Sample("float-rgb.tif", "tiff-float", write_tiff(WIDTH, HEIGHT, 3, 32, 2, 3, strip),
                  [truth], tolerance=2.0)


def _lab(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    """CIE L*a*b* (D65 white, as libvips reads TIFF CIELab) of an sRGB colour."""
    r, g, b = (_linear(c) for c in rgb)
    xyz = (0.4124 * r + 0.3576 * g + 0.1805 * b, 0.2126 * r + 0.7152 * g + 0.0722 * b,
           0.0193 * r + 0.1192 * g + 0.9505 * b)
    white = (0.95047, 1.0, 1.08883)
    relative = (v / w for v, w in zip(xyz, white))
    f = [t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116 for t in relative]
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


def lab_tiff() -> Sample:
    """16-bit CIELab (photometric 8): L 0-65535 for 0-100, a and b signed, 256 a unit."""
    truth = picture()
    strip = bytearray()
    for y in range(HEIGHT):
        for x in range(WIDTH):
            lightness, a, b = _lab(truth.getpixel((x, y)))
            strip += struct.pack("<Hhh", round(lightness * 65535 / 100), round(a * 256), round(b * 256))
    return Sample("lab16.tif", "tiff-lab", write_tiff(WIDTH, HEIGHT, 3, 16, 8, 1, bytes(strip)),
                  [truth], tolerance=2.0)


# --- animation: APNG and animated WebP ------------------------------------------------------


def _frames(count: int = 4) -> list[Image.Image]:
    base = picture(96, 64)
    return [base.rotate(90 * n) if n % 2 == 0 else base.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            for n in range(count)]


def apng() -> Sample:
    frames = _frames()
    data = _encode(frames[0], "PNG", save_all=True, append_images=frames[1:], duration=120, loop=0)
    return Sample("animated.png", "apng", data, frames, tolerance=1.0, vips_agrees=False)


def _smooth_frames(count: int = 4) -> list[Image.Image]:
    """Photograph-like (no hard edges), the content lossy animated WebPs are made of."""
    base = picture(240, 160).filter(ImageFilter.GaussianBlur(6))
    return [base.rotate(20 * n) for n in range(count)]


def animated_webp(lossless: bool) -> Sample:
    """Lossless: flat frames. Lossy: smooth frames at libwebp's usual quality,
    whose lossless re-encode is 6× the file (today's rendition: a still)."""
    frames = _frames() if lossless else _smooth_frames()
    options = {"lossless": True} if lossless else {"quality": 80}
    data = _encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=120, loop=0,
                   **options)
    name = "animated-lossless.webp" if lossless else "animated-lossy.webp"
    return Sample(name, "animated-webp", data, frames, tolerance=1.0 if lossless else 8.0)


# --- GIF frames that miss the logical screen ------------------------------------------------


def _lzw(indices: bytes, min_code_size: int = 8) -> bytes:
    """GIF LZW with literals only: a clear code before the table would widen
    the codes, so every code stays min_code_size + 1 bits. Valid, if large."""
    clear, end = 1 << min_code_size, (1 << min_code_size) + 1
    width = min_code_size + 1
    limit = (1 << width) - (end + 1) - 1  # literals before the decoder's table fills the width
    codes, since_clear = [clear], 0
    for index in indices:
        if since_clear == limit:
            codes.append(clear)
            since_clear = 0
        codes.append(index)
        since_clear += 1
    codes.append(end)
    bits, count, out = 0, 0, bytearray()
    for code in codes:
        bits |= code << count
        count += width
        while count >= 8:
            out.append(bits & 0xFF)
            bits >>= 8
            count -= 8
    if count:
        out.append(bits & 0xFF)
    blocks = bytearray((min_code_size,))
    for i in range(0, len(out), 255):
        chunk = out[i : i + 255]
        blocks += bytes((len(chunk),)) + chunk
    return bytes(blocks + b"\0")


_GIF_PALETTE = [(0, 0, 0), (230, 30, 30), (30, 200, 40), (40, 40, 220), (240, 240, 240)] + \
               [(i, i, i) for i in range(5, 256)]


def write_gif(screen: tuple[int, int], frames: list[tuple[tuple[int, int, int, int], bytes]],
              transparent: int | None = None, delay: int = 10) -> bytes:
    """A GIF89a with a 256-colour global palette; each frame is (left, top,
    width, height) and its palette indices. Disposal 1 (keep)."""
    palette = b"".join(bytes(c) for c in _GIF_PALETTE)
    out = bytearray(b"GIF89a" + struct.pack("<HHBBB", *screen, 0xF7, 0, 0) + palette)
    if len(frames) > 1:
        out += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\0\0\0"
    for (left, top, width, height), indices in frames:
        flags = 0x04 | (1 if transparent is not None else 0)
        out += b"\x21\xf9\x04" + struct.pack("<BHB", flags, delay, transparent or 0) + b"\0"
        out += b"\x2c" + struct.pack("<HHHHB", left, top, width, height, 0) + _lzw(indices)
    return bytes(out + b"\x3b")


def _gif_canvas(screen: tuple[int, int], frames: list[tuple[tuple[int, int, int, int], bytes]],
                transparent: int | None = None) -> list[Image.Image]:
    """What a browser shows: each frame drawn onto a transparent canvas the
    size of the logical screen, clipped to it, kept between frames."""
    canvas = Image.new("RGBA", screen, (0, 0, 0, 0))
    shown = []
    for (left, top, width, height), indices in frames:
        for i, index in enumerate(indices):
            x, y = left + i % width, top + i // width
            if index != transparent and x < screen[0] and y < screen[1]:
                canvas.putpixel((x, y), _GIF_PALETTE[index] + (255,))
        shown.append(canvas.copy())
    return shown


def _stripes(width: int, height: int, first: int = 1) -> bytes:
    return bytes(first + (x * 4 // width + y * 2 // height) % 4 for y in range(height) for x in range(width))


def gif_samples() -> list[Sample]:
    full = ((0, 0, 32, 32), _stripes(32, 32))
    past = [((8, 8, 40, 40), _stripes(40, 40))]  # reaches 48x48 on a 32x32 screen
    big = [((0, 0, 40, 40), _stripes(40, 40))]  # the only frame is larger than the screen
    short = [((8, 8, 16, 16), _stripes(16, 16)), full]  # first frame smaller than the screen
    cases = [
        ("gif-frame-past-screen.gif", (32, 32), past, "gif-screen"),
        ("gif-frame-larger-than-screen.gif", (32, 32), big, "gif-screen"),
        ("gif-first-frame-short.gif", (32, 32), short, "gif-short-frame"),
        ("gif-screen-larger.gif", (48, 40), [((4, 4, 32, 24), _stripes(32, 24))], "gif-short-frame"),
    ]
    samples = []
    for name, screen, frames, kind in cases:
        samples.append(Sample(name, kind, write_gif(screen, frames), _gif_canvas(screen, frames),
                              tolerance=2.0, vips_agrees=False))
    return samples


# --- colour: untagged CMYK, greyscale ICC profiles ------------------------------------------


def cmyk_jpeg() -> Sample:
    """A CMYK JPEG without a profile. Its truth is the libvips rendering
    (through libvips' built-in press profile), not known here: `truth` holds
    the naive inversion only for sizes and frame counts."""
    cmyk = picture(96, 64).convert("CMYK")
    return Sample("cmyk-untagged.jpg", "cmyk-untagged", _encode(cmyk, "JPEG", quality=95),
                  [cmyk.convert("RGB")], tolerance=4.0)


_D50 = b"".join(struct.pack(">i", round(v * 65536)) for v in (0.9642, 1.0, 0.8249))  # ICC s15Fixed16 XYZ


def grey_profile(gamma: float = 1.0) -> bytes:
    """A minimal ICC v2 greyscale display profile: D50 white point and a
    gamma curve (kTRC). Gamma 1.0 (linear light) is far from sRGB's, so a
    decoder that ignores the profile comes out visibly dark."""
    desc = b"Linear grey (imgpipe tests)\0"
    tags = {
        b"desc": b"desc\0\0\0\0" + struct.pack(">I", len(desc)) + desc + b"\0" * 8 + b"\0" * 3 + b"\0" * 67,
        b"wtpt": b"XYZ \0\0\0\0" + _D50,
        b"kTRC": b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0",
        b"cprt": b"text\0\0\0\0" + b"public domain\0",
    }
    table, body, offset = b"", b"", 128 + 4 + 12 * len(tags)
    for signature, tag in tags.items():
        tag += b"\0" * (-len(tag) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(tag))
        body += tag
    size = offset + len(body)
    header = (struct.pack(">I", size) + b"\0" * 4 + bytes([2, 0x10, 0, 0]) + b"mntrGRAYXYZ "
              + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp" + b"\0" * 24
              + struct.pack(">I", 0) + _D50
              + b"\0" * 48)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def _srgb_level(linear: float) -> int:
    v = linear / 255
    s = 12.92 * v if v <= 0.0031308 else 1.055 * v ** (1 / 2.4) - 0.055
    return round(s * 255)


def grey_icc(fmt: str) -> Sample:
    """A greyscale ramp tagged with a linear-light grey profile: shown in sRGB
    it is much lighter than its raw levels."""
    grey = Image.new("L", (96, 64))
    grey.putdata([(x * 255 // 95) for y in range(64) for x in range(96)])
    data = _encode(grey, fmt, icc_profile=grey_profile(), **({"quality": 95} if fmt == "JPEG" else {}))
    truth = grey.point(lambda v: _srgb_level(v)).convert("RGB")
    extension = {"JPEG": "jpg", "PNG": "png"}[fmt]
    return Sample(f"grey-icc.{extension}", "grey-icc", data, [truth], tolerance=4.0)


# --- everything ----------------------------------------------------------------------------

GENERATORS: list[Callable[[], list[Sample]]] = [
    lambda: [grey_trns_png(d) for d in (1, 2, 4, 8, 16)] + [rgb_trns_png(d) for d in (8, 16)],
    bmp_samples,
    lambda: [float_tiff(), lab_tiff()],
    lambda: [apng(), animated_webp(lossless=True), animated_webp(lossless=False)],
    gif_samples,
    lambda: [cmyk_jpeg(), grey_icc("JPEG"), grey_icc("PNG")],
]


def samples() -> list[Sample]:
    return [sample for make in GENERATORS for sample in make()]


def main(out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for sample in samples():
        (out / sample.name).write_bytes(sample.data)
        print(f"{sample.name:34} {sample.kind:20} {len(sample.data):>7} bytes")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "reference-images")
