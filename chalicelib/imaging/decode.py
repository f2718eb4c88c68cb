"""Bytes to pixels, safely: the first thing every upload goes through, and the
colour the pixels come out in.

The format is sniffed from magic numbers against an allow-list (the name and
Content-Type are never trusted), only the accepted decoders are registered,
pixels are counted from the header before anything is decoded, and every
decoder failure becomes a reason code: `unsupported_format` naming the
feature for a valid file we cannot decode, `corrupt_image` only for broken
data. BMP layouts Pillow lacks go to bmp.py. JPEGs decode at a DCT scale
(draft) when the renditions allow. Frames come out as browsers show them: a
PNG colour key as alpha (colour.py), a GIF on its logical screen (gif.py);
colour.normalise then brings any mode to 8-bit and finds its sRGB transform.
"""

import functools
import io
import struct
import warnings
import zlib
from collections.abc import Callable

from PIL import Image
from PIL.ImageFile import ImageFile

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

from chalicelib.codecs import AVIF_SUPPORTED
from chalicelib.errors import CorruptImageError, EmptyFileError, TooManyPixelsError, UnsupportedFormatError
from chalicelib.imaging import bmp
from chalicelib.imaging.colour import colour_key_to_alpha
from chalicelib.imaging.geometry import TRANSPOSE, spec_scale, upright
from chalicelib.imaging.gif import GifLayout, needs_fixing, on_screen, read_layout
from chalicelib.imaging.messages import chunk_name, tiff_refusal
from chalicelib.renditions import RenditionSpec

if AVIF_SUPPORTED:
    from PIL import AvifImagePlugin  # noqa: F401  (registers the AVIF plugin)

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
# For a file Pillow cannot open: the feature of a valid file of a kind it lacks, or None.
_FEATURE_NAMERS: dict[str, Callable[[bytes], str | None]] = {
    "TIFF": tiff_refusal, "BMP": bmp.unsupported_feature,
}
# ISOBMFF `ftyp` brands: AVIF is checked first, as AVIF files list mif1 too.
_AVIF_BRANDS = {b"avif", b"avis"}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
# JPEG start-of-frame markers of hierarchical (differential) frames, which libjpeg refuses.
_HIERARCHICAL = (0xC5, 0xC6, 0xC7, 0xCD, 0xCE, 0xCF)
BOMB = (Image.DecompressionBombError, Image.DecompressionBombWarning)
# Pillow formats whose files can hold an animation (PNG: APNG).
ANIMATED_FORMATS = ("GIF", "WEBP", "PNG")

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
    """Open the header only: no pixel is decoded before the size is checked
    (a BMP that bmp.py handles comes back decoded already, as a plain Image)."""
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
    if source_format == "BMP" and bmp.handles(data):
        return bmp.decode(data, max_pixels), source_format  # already counted and decoded
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        image = Image.open(io.BytesIO(data), formats=OPENERS[source_format])
    except BOMB:
        raise TooManyPixelsError(f"The image has more than {max_pixels} pixels.") from None
    except Exception as exc:  # any decoder failure on hostile bytes is "corrupt"...
        name_feature = _FEATURE_NAMERS.get(source_format)
        feature = name_feature(data) if name_feature else None
        if feature:  # ... unless it is a valid file of a kind Pillow lacks
            raise UnsupportedFormatError(feature) from exc
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
            raise CorruptImageError(f"PNG chunk {chunk_name(kind)} runs past the end of the file.")
        (crc,) = struct.unpack(">I", data[end : end + 4])
        if zlib.crc32(data[offset + 4 : end]) != crc:
            raise CorruptImageError(f"PNG chunk {chunk_name(kind)} fails its CRC check.")
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
    return orientation if orientation in TRANSPOSE else 1


def frame_count(image: Image.Image) -> int:
    """Frames of an animated GIF, WebP or PNG (APNG); 1 for everything else
    (an MPO's second frame is the other eye of a stereo pair, not an animation)."""
    if image.format not in ANIMATED_FORMATS or not getattr(image, "is_animated", False):
        return 1
    return getattr(image, "n_frames", 1)  # Pillow counts GIF frames, and APNG's acTL, without decoding them


def gif_screen(image: Image.Image, data: bytes) -> GifLayout | None:
    """A GIF's logical screen and frame boxes, when Pillow's canvas differs
    from the browser's (a frame past the screen, an area the first frame
    leaves undrawn); None for every other image. The screen is never larger
    than Pillow's canvas, whose pixels open_image has counted."""
    if image.format != "GIF":
        return None
    layout = read_layout(data, max_frames=frame_count(image))
    return layout if layout is not None and needs_fixing(layout, image.size) else None


def as_shown(frame: Image.Image, data: bytes, screen: GifLayout | None) -> Image.Image:
    """The first frame, loaded, as browsers show it: a PNG's colour key as
    alpha, a GIF clipped to its logical screen with the undrawn rest transparent."""
    if frame.format == "PNG":
        frame = colour_key_to_alpha(frame, data)
    if screen is not None:
        frame = on_screen(frame, screen, 0)
    return frame


def decode_frame(image: Image.Image, orientation: int) -> Image.Image:
    """Decode the current frame's pixels and apply the EXIF orientation."""
    # Not ImageOps.exif_transpose: it parses EXIF again and copies the whole
    # image even when there is nothing to turn (300 MB for a 100 MP PNG).
    return upright(load_frame(image), orientation)


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


def read_frames(
    data: bytes, source_format: str, orientation: int, max_pixels: int,
    resize: Callable[[Image.Image], dict[tuple[int, int], Image.Image]],
) -> tuple[dict[tuple[int, int], list[Image.Image]], list[int], int]:
    """Decode each frame once and keep only `resize(frame)`'s pictures:
    {size: frames}, the frame durations in ms, and the loop count.

    A later frame may be larger than the header said, so pixels are counted
    as they are really decoded. GIF frames are drawn on the logical screen.
    """
    source = Image.open(io.BytesIO(data), formats=OPENERS[source_format])
    screen = gif_screen(source, data)
    frames: dict[tuple[int, int], list[Image.Image]] = {}
    durations, pixels = [], 0
    try:
        for number in range(getattr(source, "n_frames", 1)):  # the multi-frame plugins' count
            try:
                source.seek(number)
            except BOMB as exc:
                raise TooManyPixelsError(f"Frame {number + 1} declares too many pixels.") from exc
            pixels += source.width * source.height
            if pixels > max_pixels:
                raise TooManyPixelsError(f"The frames together have more than {max_pixels} pixels.")
            frame = decode_frame(source, orientation)
            if screen is not None:  # a GIF: no EXIF orientation to come first
                frame = on_screen(frame, screen, number)
            durations.append(source.info.get("duration", 100))  # WebP sets it on load
            frame = frame.convert("RGBA" if "A" in frame.mode or "transparency" in frame.info else "RGB")
            for size, picture in resize(frame).items():
                frames.setdefault(size, []).append(picture)
    except EOFError:  # fewer frames than the header promised: keep what decoded
        pass
    return frames, durations, source.info.get("loop", 0)


# Decode scales in eighths, and how much larger than the largest output each
# must stay. 1/8 and 1/4 average 8x8 and 4x4 blocks and would blur: keep 2x
# for the final LANCZOS, as libvips' thumbnail does. 3/8 and 1/2 are scaled
# IDCTs as sharp as their size, used whenever they cover the output: SSIM
# stayed within 0.0035 of libvips on the bench photos (docs/PERFORMANCE.md).
# 3/8 instead of 1/2 halves the LANCZOS work of a 12 MP photo's 800x600, and
# instead of 1/2 for a 24 MP photo's 2048 px it saves 21 MB of peak memory.
_EIGHTHS = ((1, 2.0), (2, 2.0), (3, 1.0), (4, 1.0))


def draft(
    image: Image.Image, display_size: tuple[int, int], specs: list[RenditionSpec]
) -> tuple[float, float] | None:
    """Let libjpeg decode at 1/8, 1/4, 3/8 or 1/2 scale (DCT scaling), which
    costs less time and memory than resampling the full image.

    Returns the exact extent of the source in decoded pixels, upright (e.g.
    901.125 rows for 2403 at 3/8, where the decoder gives 902), or None when
    the image is decoded at full size; resizing from that box keeps the
    renditions aligned with the source.
    """
    if not isinstance(image, ImageFile) or image.format not in ("JPEG", "MPO"):
        return None
    if not specs or image.decoderconfig or image.info.get("lossless"):
        return None  # libjpeg has no DCT scaling for lossless JPEG
    width, height = display_size
    scale = max(min(spec_scale(spec, width, height), 1.0) for spec in specs)
    usable = [(k, headroom) for k, headroom in _EIGHTHS if k != 3 or three_eighths_works()]
    eighths = next((k for k, headroom in usable if k / 8 >= scale * headroom), None)
    if eighths is None or not _draft_eighths(image, eighths):
        return None
    return width * eighths / 8, height * eighths / 8


def _draft_eighths(image: "ImageFile", eighths: int) -> bool:
    """Pillow's draft() knows 1/8, 1/4 and 1/2; libjpeg's scale_denom 3 gives
    3/8, set here the way draft() sets the others. False if draft() declined."""
    coded_w, coded_h = image.size
    halves = {1: 8, 2: 4, 3: 2, 4: 2}[eighths]
    if image.draft(image.mode, (coded_w // halves, coded_h // halves)) is None:
        return False
    if eighths == 3:
        size = (-(-coded_w * 3 // 8), -(-coded_h * 3 // 8))  # libjpeg rounds up
        image.tile = [image.tile[0]._replace(extents=(0, 0, *size))]
        image._size = size
        image.decoderconfig = (3, 0)
    return True


@functools.cache
def three_eighths_works() -> bool:
    """3/8 goes through Pillow's internals (tile, size, decoderconfig): check
    once, on a 16x16 JPEG, that this Pillow still decodes that way; if not,
    keep to draft()'s own scales rather than fail on real images. Run on the
    first JPEG that could use 3/8, not at import: importing decodes nothing.
    Opened by the plugin itself: Image.open's bomb check would apply whatever
    MAX_IMAGE_PIXELS the last open_image set, and a False here is for good."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(buffer, "JPEG")
    buffer.seek(0)
    try:
        image = JpegImagePlugin.JpegImageFile(buffer)
        if not _draft_eighths(image, 3):
            return False
        image.load()
        if image.size != (6, 6):
            return False
        pixel = image.getpixel((3, 3))
        return isinstance(pixel, tuple) and abs(pixel[0] - 200) < 8
    except Exception:  # any failure only means: do not use 3/8
        return False
