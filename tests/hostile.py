"""A corpus of hostile and broken files, made from scratch.

Each case is (name, bytes, expected): `expected` is the reason code the
record must end with, or COMPLETE for files that must produce clean
renditions. `python -m tests.hostile DIR` writes the files to DIR for use
with other tools (fuzzers, `python -m imgpipe resize`).
"""

import struct
import sys
import zlib
from pathlib import Path

from PIL import Image

from tests import images

COMPLETE = "COMPLETE"
_JPEG_VARIANTS = Path(__file__).parent / "data" / "jpeg"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, rows: bytes, extra: bytes = b"", colour_type: int = 0) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + extra
            + _png_chunk(b"IDAT", zlib.compress(rows, 9)) + _png_chunk(b"IEND", b""))


def compressed_png_bomb(side: int = 10_000) -> bytes:
    """side × side greyscale, all zero: 100 MP that compress to ~100 KB."""
    row = b"\0" * (side + 1)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data)
            + _png_chunk(b"IEND", b""))


def png_with_bad_crc() -> bytes:
    data = bytearray(images.encode(images.quadrants(), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 10] ^= 0xFF  # flip bits in the compressed data; the CRC no longer matches
    return bytes(data)


def png_with_huge_ztxt() -> bytes:
    """A 50 MB zTXt chunk squeezed into ~50 KB, before the pixels."""
    text = b"Comment\0\0" + zlib.compress(b"A" * 50_000_000, 9)
    return _png(4, 4, b"\0" * 5 * 4, extra=_png_chunk(b"zTXt", text))


def gif_screen(width: int, height: int) -> bytes:
    """A GIF whose logical screen is width × height."""
    small = images.encode(Image.new("P", (2, 2)), "GIF")
    return small[:6] + struct.pack("<HH", width, height) + small[10:]


def gif_with_bomb_frame() -> bytes:
    """Frame 0 is 10×10; frame 1 declares 60000×60000 at the far corner."""
    data = images.encode(Image.new("P", (10, 10), 1), "GIF")
    flags = data[10]
    offset = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    while data[offset] == 0x21:  # skip extension blocks up to the image descriptor
        offset += 2
        while data[offset]:
            offset += data[offset] + 1
        offset += 1
    frame = data[offset:-1]  # image descriptor + pixel data, without the trailer
    bomb = frame[:1] + struct.pack("<HHHH", 1000, 1000, 60000, 60000) + frame[9:]
    return data[:-1] + bomb + b";"


def bmp_declaring(width: int, height: int) -> bytes:
    data = bytearray(images.encode(Image.new("RGB", (4, 4)), "BMP"))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def jpeg_declaring(width: int, height: int) -> bytes:
    data = bytearray(images.jpeg(16, 16))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def many_frame_gif(frames: int = 3000) -> bytes:
    palette = [0, 0, 0, 255, 255, 255] + [0] * 762
    made = []
    for n in range(frames):  # alternate black and white so no frame can be merged away
        frame = Image.new("P", (32, 32), n % 2)
        frame.putpalette(palette)
        made.append(frame)
    return images.encode(made[0], "GIF", save_all=True, append_images=made[1:], duration=10)


def jpeg_with_payloads() -> bytes:
    exif = Image.Exif()
    exif[0x010E] = "<?php system($_GET['cmd']); ?>"  # ImageDescription
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}
    return images.encode(images.quadrants(), "JPEG", quality=90, exif=exif.tobytes(),
                         comment=b"<script>alert('comment')</script>")


SVG_XXE = b"""<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<svg xmlns="http://www.w3.org/2000/svg"><text>&xxe;</text></svg>"""
SVG_SCRIPT = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
SVG_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              + b"".join(b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"&lol;") * 10)
                         for n in range(1, 10))
              + b']><svg xmlns="http://www.w3.org/2000/svg"><text>&lol9;</text></svg>')
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n(/etc/passwd) (r) file\nshowpage\n"
PSD = b"8BPS\x00\x01" + b"\x00" * 6 + struct.pack(">HIIHH", 3, 64, 64, 8, 3) + b"\x00" * 64
FITS = b"SIMPLE  =                    T" + b" " * 50 + b"BITPIX  =                    8" + b" " * 50


def cases() -> list[tuple[str, bytes, str]]:
    jpeg = images.jpeg(800, 600)
    png = images.encode(images.quadrants(), "PNG")
    gif = images.encode(images.quadrants(), "GIF")
    return [
        ("empty.jpg", b"", "empty_file"),
        ("text.jpg", b"This is a text file, not a picture.\n" * 20, "unsupported_format"),
        ("page.jpg", b"<!doctype html><html><body><script>alert(1)</script></body></html>", "unsupported_format"),
        ("truncated.jpg", jpeg[: len(jpeg) // 2], "corrupt_image"),
        ("truncated.png", png[: len(png) * 2 // 3], "corrupt_image"),
        ("truncated.gif", gif[: len(gif) // 2], "corrupt_image"),
        ("bad-crc.png", png_with_bad_crc(), "corrupt_image"),
        ("huge-header.png", images.png_declaring(100_000, 100_000), "too_many_pixels"),
        ("huge-screen.gif", gif_screen(65_535, 65_535), "too_many_pixels"),
        ("huge-header.bmp", bmp_declaring(60_000, 60_000), "too_many_pixels"),
        ("huge-header.jpg", jpeg_declaring(65_000, 65_000), "too_many_pixels"),
        ("huge-ztxt.png", png_with_huge_ztxt(), "corrupt_image"),
        ("xxe.svg.png", SVG_XXE, "unsupported_format"),
        ("script.svg", SVG_SCRIPT, "unsupported_format"),
        ("billion-laughs.svg", SVG_LAUGHS, "unsupported_format"),
        ("eps.jpg", EPS, "unsupported_format"),
        ("psd.png", PSD, "unsupported_format"),
        ("fits.jpg", FITS, "unsupported_format"),
        ("bomb-frame.gif", gif_with_bomb_frame(), "too_many_pixels"),
        ("one-by-100000.png", images.encode(Image.new("L", (1, 100_000), 128), "PNG"), COMPLETE),
        ("3000-frames.gif", many_frame_gif(), COMPLETE),
        ("html-appended.jpg", images.jpeg() + b"<html><script>alert('appended')</script></html>", COMPLETE),
        ("payloads.jpg", jpeg_with_payloads(), COMPLETE),
        # Real-world shapes that once failed: a macOS screenshot (opaque RGBA + Display P3),
        # 12-bit and lossless-16 JPEGs (named, not `'MPO'`), BigTIFF (accepted).
        ("screenshot-p3.png", images.screenshot_png(), COMPLETE),
        ("12-bit.jpg", (_JPEG_VARIANTS / "12bit.jpg").read_bytes(), "unsupported_format"),
        ("lossless-16-bit.jpg", (_JPEG_VARIANTS / "lossless16.jpg").read_bytes(), "unsupported_format"),
        ("bigtiff.tif", images.encode(images.quadrants(), "TIFF", big_tiff=True), COMPLETE),
        # Magic numbers then junk: Pillow's message names a `<_io.BytesIO object at 0x…>`.
        ("tiff-magic-then-junk.tif", b"II*\x00" + b"\xff" * 60, "corrupt_image"),
        ("gif-magic-then-junk.gif", b"GIF89a" + b"\x00" * 3, "corrupt_image"),
    ]


# Bytes that must never appear in any rendition made from these cases.
PAYLOADS = (b"<script>", b"<?php", b"alert(", b"<html>")


def main(out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, data, expected in cases():
        (out / name).write_bytes(data)
        print(f"{name:24} {len(data):>9} bytes  expect {expected}")
    (out / "compressed-bomb-100mp.png").write_bytes(compressed_png_bomb())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "hostile-corpus")
