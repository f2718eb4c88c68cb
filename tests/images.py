"""Images made with Pillow for the tests: every mode, format and trap we handle."""

import io
import struct
import zlib

from PIL import Image, ImageCms

# Quadrant colours of `quadrants()`: after correct orientation the top-left
# quadrant of every output is red.
RED, GREEN, BLUE, YELLOW = (220, 20, 20), (20, 200, 20), (20, 20, 220), (230, 230, 20)
FRAME_COLOURS = (RED, GREEN, BLUE)  # of `animation()`'s frames, in turn

# Orientation n stores the picture so that applying transform n shows it upright;
# these are the inverse operations used to make such files.
_STORE_AS = {
    1: [],
    2: [Image.Transpose.FLIP_LEFT_RIGHT],
    3: [Image.Transpose.ROTATE_180],
    4: [Image.Transpose.FLIP_TOP_BOTTOM],
    5: [Image.Transpose.TRANSPOSE],
    6: [Image.Transpose.ROTATE_90],
    7: [Image.Transpose.TRANSVERSE],
    8: [Image.Transpose.ROTATE_270],
}


def quadrants(width: int = 400, height: int = 300, mode: str = "RGB") -> Image.Image:
    """An upright picture whose four quadrants have distinct colours."""
    image = Image.new("RGB", (width, height))
    w, h = width // 2, height // 2
    for colour, box in ((RED, (0, 0, w, h)), (GREEN, (w, 0, width, h)),
                        (BLUE, (0, h, w, height)), (YELLOW, (w, h, width, height))):
        image.paste(colour, box)
    return image.convert(mode) if mode != "RGB" else image


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def jpeg(width: int = 400, height: int = 300, **params) -> bytes:
    return encode(quadrants(width, height), "JPEG", quality=95, **params)


def oriented_jpeg(orientation: int, width: int = 400, height: int = 300, fmt: str = "JPEG") -> bytes:
    """A JPEG (or `fmt`) that shows `quadrants(width, height)` once its EXIF orientation is applied."""
    stored = quadrants(width, height)
    for op in _STORE_AS[orientation]:
        stored = stored.transpose(op)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(stored, fmt, exif=exif.tobytes(), **({"quality": 95} if fmt == "JPEG" else {}))


def jpeg_with_metadata() -> bytes:
    """GPS position, camera make, XMP and a comment: none may reach an output."""
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}  # GPS IFD
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/">SECRET-XMP</x:xmpmeta>'
    return encode(quadrants(), "JPEG", quality=95, exif=exif.tobytes(), comment=b"SECRET-COMMENT", xmp=xmp)


def png_with_alpha(width: int = 300, height: int = 200) -> bytes:
    """Left half opaque red, right half fully transparent (black underneath)."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (0, 0, width // 2, height))
    return encode(image, "PNG")


def sixteen_bit_png(value: int = 40000, size: tuple[int, int] = (120, 80)) -> bytes:
    """16-bit greyscale at `value`/65535: clipping would make it pure white."""
    return encode(Image.new("I;16", size, value), "PNG")


def cmyk_jpeg(cmyk: tuple[int, int, int, int] = (0, 255, 255, 0)) -> bytes:
    """Pure red in CMYK (no cyan, full magenta and yellow)."""
    return encode(Image.new("CMYK", (160, 120), cmyk), "JPEG", quality=95)


def palette_gif_with_transparency() -> bytes:
    image = Image.new("P", (100, 100), 1)
    image.putpalette([255, 255, 255, 0, 0, 255] + [0] * 762)
    image.paste(0, (0, 0, 50, 100))
    return encode(image, "GIF", transparency=0)


def srgb_tagged_png() -> bytes:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encode(quadrants(), "PNG", icc_profile=profile)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A tiny valid-looking PNG whose header declares width × height pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = _png_chunk(b"IDAT", zlib.compress(b"\0" * 16))
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + idat + _png_chunk(b"IEND", b"")


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: int(len(data) * keep)]


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def pixel_close(actual, expected, tolerance: int = 40) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected))


def heic(width: int = 400, height: int = 300, orientation: int = 1) -> bytes:
    """`quadrants()` as HEIC, written by pillow-heif (libheif + x265). An
    EXIF orientation becomes HEIF's own rotation (irot), as phones write it."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(quadrants(width, height), "HEIF", quality=90, exif=exif.tobytes())


def animation(fmt: str = "GIF", frames: int = 3, size: tuple[int, int] = (120, 90)) -> bytes:
    """Frame n is filled with FRAME_COLOURS[n % 3], each shown 50 ms + 10 ms × n."""
    pictures = [Image.new("RGB", size, FRAME_COLOURS[n % 3]) for n in range(frames)]
    durations = [50 + 10 * n for n in range(frames)]
    return encode(pictures[0], fmt, save_all=True, append_images=pictures[1:], duration=durations, loop=0)



def write_big_png(path, width: int, height: int) -> None:
    """A width × height RGB PNG of diagonal stripes, streamed row by row, so
    making a 100 MP test file costs neither the pixels' memory nor a decoder."""
    base = bytes(range(256)) * ((width * 3) // 256 + 2)
    compressor = zlib.compressobj(1)
    idat = bytearray()
    for y in range(height):
        offset = (y % 256) * 3 % 256
        idat += compressor.compress(b"\0" + base[offset : offset + width * 3])
    idat += compressor.flush()

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    with open(path, "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header))
        out.write(_png_chunk(b"IDAT", bytes(idat)) + _png_chunk(b"IEND", b""))


def _icc_tag_xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(struct.pack(">i", round(v * 65536)) for v in (x, y, z))


def display_p3_profile() -> bytes:
    """An ICC v2 matrix/TRC profile with Display P3's primaries (D50-adapted,
    as in Apple's profile) and a 2.2 gamma: the wide gamut of macOS
    screenshots and iPhone photos, written by hand as Pillow can only
    create sRGB, LAB and XYZ profiles."""
    desc = b"Display P3 (imgpipe tests)\0"
    tags = {
        b"desc": b"desc\0\0\0\0" + struct.pack(">I", len(desc)) + desc + b"\0" * 8 + b"\0" * 3 + b"\0" * 67,
        b"wtpt": _icc_tag_xyz(0.9642, 1.0, 0.8249),
        b"rXYZ": _icc_tag_xyz(0.515102, 0.241196, -0.001053),
        b"gXYZ": _icc_tag_xyz(0.291965, 0.692236, 0.041882),
        b"bXYZ": _icc_tag_xyz(0.157153, 0.066574, 0.784073),
        b"rTRC": b"curv\0\0\0\0" + struct.pack(">IH", 1, round(2.2 * 256)) + b"\0\0",
        b"cprt": b"text\0\0\0\0" + b"public domain\0",
    }
    tags[b"gTRC"] = tags[b"bTRC"] = tags[b"rTRC"]
    table, body, offset = b"", b"", 128 + 4 + 12 * len(tags)
    for signature, data in tags.items():
        data += b"\0" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (struct.pack(">I", size) + b"\0" * 4 + bytes([2, 0x10, 0, 0]) + b"mntrRGB XYZ "
              + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp" + b"\0" * 24
              + struct.pack(">I", 0) + _icc_tag_xyz(0.9642, 1.0, 0.8249)[8:] + b"\0" * 48)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def screenshot_png(width: int = 120, height: int = 80) -> bytes:
    """A macOS screenshot's shape: RGBA, every pixel opaque, a Display P3
    profile. The left half is P3's (234, 51, 35), which is sRGB red."""
    image = Image.new("RGBA", (width, height), (255, 255, 255, 255))
    image.paste((234, 51, 35, 255), (0, 0, width // 2, height))
    return encode(image, "PNG", icc_profile=display_p3_profile())
