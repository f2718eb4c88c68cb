"""Bytes to pixels, safely: the first thing every upload goes through.

The format is sniffed from magic numbers against an allow-list (the name and
Content-Type are never trusted), only the accepted decoders are registered,
pixels are counted from the header before anything is decoded, and every
decoder failure becomes a reason code.
"""

import io
import struct
import warnings
import zlib

from PIL import Image

# Register only the plugins we accept. Image.open(formats=...) then never
# falls back to Image.init(), which would load PSD, EPS (Ghostscript), FITS...
# and the first save does not pay ~40 ms to import every plugin.
from PIL import (  # noqa: F401  (imported for their registration side effect)
    BmpImagePlugin,
    GifImagePlugin,
    JpegImagePlugin,
    MpoImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    WebPImagePlugin,
)

from chalicelib.encoding import AVIF_SUPPORTED
from chalicelib.errors import CorruptImageError, EmptyFileError, TooManyPixelsError, UnsupportedFormatError

# Pillow plugin names that each sniffed format may open as (MPO is a JPEG
# with extra frames, as written by many cameras).
OPENERS = {
    "JPEG": ["JPEG", "MPO"],
    "PNG": ["PNG"],
    "GIF": ["GIF"],
    "BMP": ["BMP"],
    "TIFF": ["TIFF"],
    "WEBP": ["WEBP"],
    "AVIF": ["AVIF"],
    "HEIF": ["HEIF"],
}
# ISOBMFF `ftyp` brands: AVIF is checked first, as AVIF files list mif1 too.
_AVIF_BRANDS = {b"avif", b"avis"}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
# Orientation tag → the transpose that shows the picture upright.
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# JPEG start-of-frame markers of hierarchical (differential) frames, which libjpeg refuses.
_HIERARCHICAL = (0xC5, 0xC6, 0xC7, 0xCD, 0xCE, 0xCF)
BOMB = (Image.DecompressionBombError, Image.DecompressionBombWarning)

# Pillow warns past MAX_IMAGE_PIXELS (set from MAX_PIXELS below); a warning
# would let the decode go on, so make it an error everywhere (frames too).
warnings.simplefilter("error", Image.DecompressionBombWarning)


def sniff_format(head: bytes) -> str | None:
    """The format the leading bytes declare, if it is one we accept."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:2] == b"BM" and len(head) >= 26:
        return "BMP"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # classic TIFF and BigTIFF
        return "TIFF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp":
        box_end = min(int.from_bytes(head[:4], "big"), len(head))
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, box_end - 3, 4)}
        if brands & _AVIF_BRANDS:
            return "AVIF" if AVIF_SUPPORTED else None
        if brands & _HEIF_BRANDS:
            return "HEIF"
    return None


def open_image(data: bytes, max_pixels: int) -> tuple[Image.Image, str]:
    """Open the header only: no pixel is decoded before the size is checked."""
    if not data:
        raise EmptyFileError("The file is empty.")
    source_format = sniff_format(data[:64])
    if source_format is None:
        raise UnsupportedFormatError(
            "Not an accepted image format (JPEG, PNG, GIF, BMP, TIFF, WebP, HEIC"
            + (", AVIF" if AVIF_SUPPORTED else "")
            + ")."
        )
    if source_format == "PNG":
        _check_png_chunks(data)
    lossless = False
    if source_format == "JPEG":
        lossless = _check_jpeg_frame(data)
    if source_format == "HEIF":
        _register_heif()
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        image = Image.open(io.BytesIO(data), formats=OPENERS[source_format])
    except BOMB:
        raise TooManyPixelsError(f"The image has more than {max_pixels} pixels.") from None
    except Exception as exc:  # any decoder failure on hostile bytes is "corrupt"
        # The exception's text (file objects, Pillow internals) goes to the log via __cause__.
        raise CorruptImageError(f"The {source_format} file cannot be read.") from exc
    if lossless:
        image.info["lossless"] = True  # libjpeg cannot scale lossless JPEG: no draft()
    width, height = image.size
    if width < 1 or height < 1:
        raise CorruptImageError("The image declares no pixels.")
    if width * height > max_pixels:
        raise TooManyPixelsError(
            f"The image is {width}x{height} = {width * height} pixels; "
            f"the limit is {max_pixels}."
        )
    return image, source_format


def _check_jpeg_frame(data: bytes) -> bool:
    """Refuse, with a name a person knows, the JPEG variants that Pillow's
    8-bit libjpeg-turbo interface cannot decode: sample precision other than
    8 bits (12-bit, 16-bit lossless) and hierarchical frames. Arithmetic
    coding and 8-bit lossless decode (tests/test_jpeg_variants.py), so they
    pass. Returns whether the frame is lossless. A file without a readable
    frame header is left to Pillow, which calls it corrupt.
    """
    offset = 2
    while offset + 5 <= len(data) and data[offset] == 0xFF:
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte before a marker
            offset += 1
        elif 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start of frame
            if marker in _HIERARCHICAL:
                raise UnsupportedFormatError("Hierarchical JPEG is not supported.")
            lossless = marker in (0xC3, 0xCB)
            if data[offset + 4] != 8:
                kind = "lossless JPEG" if lossless else "JPEG"
                raise UnsupportedFormatError(f"{data[offset + 4]}-bit {kind} is not supported.")
            return lossless
        elif marker == 0xDA:  # scan data before any frame header: Pillow will refuse it
            return False
        else:
            offset += 2 + int.from_bytes(data[offset + 2 : offset + 4], "big")
    return False


def _check_png_chunks(data: bytes) -> None:
    """Verify every chunk's CRC: Pillow does not check IDAT's, and a flipped
    bit in compressed data decodes to garbage instead of failing."""
    offset = 8
    while offset + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        end = offset + 8 + length
        if end + 4 > len(data):
            raise CorruptImageError(f"PNG chunk {kind!r} runs past the end of the file.")
        (crc,) = struct.unpack(">I", data[end : end + 4])
        if zlib.crc32(data[offset + 4 : end]) != crc:
            raise CorruptImageError(f"PNG chunk {kind.decode('latin-1')!r} fails its CRC check.")
        if kind == b"IEND":
            return
        offset = end + 4
    raise CorruptImageError("The PNG file ends before its IEND chunk.")


def _register_heif() -> None:
    """pillow-heif costs ~50 ms to import: pay it only for HEIC uploads."""
    from pillow_heif import register_heif_opener

    # Thumbnails, depth and auxiliary images are never used: do not decode them.
    register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)


def orientation_of(image: Image.Image) -> int:
    """Read once: every later step reuses this instead of parsing EXIF again.

    1 for TIFF: Pillow's TIFF plugin turns the picture itself when it loads
    (and already reports the turned size), so applying the tag again would
    turn it twice.
    """
    if image.format == "TIFF":
        return 1
    try:
        orientation = int(image.getexif().get(0x0112, 1))
    except Exception:  # unreadable EXIF: treat as upright rather than fail
        return 1
    return orientation if orientation in _TRANSPOSE else 1


def frame_count(image: Image.Image) -> int:
    """Frames of an animated GIF or WebP; 1 for everything else (an MPO's
    second frame is the other eye of a stereo pair, not an animation)."""
    if image.format not in ("GIF", "WEBP") or not getattr(image, "is_animated", False):
        return 1
    return image.n_frames  # Pillow counts GIF frames without decoding them


def decode_frame(image: Image.Image, orientation: int) -> Image.Image:
    """Decode the current frame's pixels and apply the EXIF orientation."""
    # Not ImageOps.exif_transpose: it parses EXIF again and copies the whole
    # image even when there is nothing to turn (300 MB for a 100 MP PNG).
    return upright(load_frame(image), orientation)


def upright(picture: Image.Image, orientation: int) -> Image.Image:
    """`picture` as stored turned by its EXIF orientation (itself when upright)."""
    return picture.transpose(_TRANSPOSE[orientation]) if orientation in _TRANSPOSE else picture


def stored_box(
    box: tuple[float, float, float, float], stored_size: tuple[float, float], orientation: int
) -> tuple[float, float, float, float]:
    """A box of the upright picture in the stored picture's pixels, whose
    extent is `stored_size` (width, height as stored): cutting and resizing
    there, then turning the result, gives that box of the upright picture."""
    left, top, right, bottom = box
    width, height = stored_size
    return {
        2: (width - right, top, width - left, bottom),
        3: (width - right, height - bottom, width - left, height - top),
        4: (left, height - bottom, right, height - top),
        5: (top, left, bottom, right),
        6: (top, height - right, bottom, height - left),
        7: (width - bottom, height - right, width - top, height - left),
        8: (width - bottom, left, width - top, right),
    }.get(orientation, box)


def load_frame(image: Image.Image) -> Image.Image:
    """Decode the current frame's pixels, as stored (no EXIF orientation)."""
    try:
        image.load()
    except BOMB as exc:
        raise TooManyPixelsError("The image has more pixels than the limit allows.") from exc
    except MemoryError:
        raise
    except Exception as exc:  # truncated data, bad CRCs, bad Huffman tables...
        raise CorruptImageError(f"The {image.format} data is damaged or truncated.") from exc
    return image
