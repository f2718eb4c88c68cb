"""The colour the pixels come out in: any mode to 8-bit L, RGB or RGBA (or
CMYK, or L with a grey profile), and the transform from their colour space
to sRGB, which encode.to_srgb applies to each resized picture.

Three things Pillow leaves to us (issue 19):
- A PNG colour key (tRNS on greyscale or RGB) stays in `info["transparency"]`
  with the pixels opaque, and Pillow reports the key inconsistently (unscaled
  for 2- and 4-bit grey, a 16-bit triple for 16-bit RGB whose pixels it
  decoded to 8 bits). `colour_key_to_alpha` reads the key from the file's own
  tRNS chunk, scales it as Pillow scaled the pixels, and matches 16-bit RGB
  on all 16 bits (the low bytes decoded a second time through Pillow's
  little-endian unpacker): a colour one step from the key stays opaque.
- CMYK without a profile: convert("RGB") inverts it naively, about a dozen
  levels off on the mean. Like libvips and browsers, it goes through a
  standard press profile: "Chemical proof" by Graeme W. Gill (ArgyllCMS),
  public domain, the profile libvips builds in as its CMYK fallback
  (profiles/README.txt), relative colorimetric intent.
- Greyscale ICC profiles: lcms2 links a GRAY profile to sRGB (L in, RGB out)
  like any other; without it a linear-light grey comes out far too dark.
"""

import io
import struct
from functools import cache, lru_cache, reduce
from pathlib import Path

from PIL import Image, ImageChops, ImageCms, ImageMath

_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
# The ICC colour space a mode's pixels must be in for a transform to apply.
_ICC_SPACE = {"RGB": "RGB ", "RGBA": "RGB ", "CMYK": "CMYK", "L": "GRAY"}
PRESS_PROFILE = Path(__file__).with_name("profiles") / "cmyk-chemical-proof.icc"
# lcms2's one-pixel cache is not thread-safe; encoder threads share every transform.
_FLAGS = ImageCms.Flags.NOCACHE


def normalise(image: Image.Image) -> tuple[Image.Image, ImageCms.ImageCmsTransform | None]:
    """Bring any mode to 8-bit L, RGB, RGBA, or CMYK; and the transform from
    its ICC profile (untagged CMYK: the press profile) to sRGB, if it has one.

    The transform is applied to each rendition after resizing: far fewer
    pixels, and the bench shows no change in SSIM.
    """
    mode = image.mode
    if mode in _SIXTEEN_BIT:
        # convert("L") would clip 16-bit values at 255; scale them instead.
        image = image.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    elif mode == "F":
        image = image.point(lambda v: v * 255).convert("L")
    elif mode in ("P", "PA", "LA", "La", "RGBa"):
        has_alpha = "A" in mode or "a" in mode or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    elif mode == "1":
        image = image.convert("L")
    elif mode not in ("L", "RGB", "RGBA", "CMYK"):
        image = image.convert("RGB")

    # Before the transform is built: it is made for exactly this mode
    # (an RGBA transform on the RGB picture was the macOS-screenshot crash).
    if image.mode == "RGBA" and image.getchannel("A").getextrema()[0] == 255:
        image = image.convert("RGB")  # alpha that hides nothing
    transform = _embedded_transform(image.info.get("icc_profile"), image.mode)
    if image.mode == "CMYK" and transform is None:
        transform = untagged_cmyk_transform()
    return image, transform


# Building a transform costs 3.5-5 ms (lcms precalculates its tables), as
# much as converting an 800x600 rendition. Photos repeat a handful of
# profiles (a phone maker's Display P3, the common sRGB IEC61966-2.1), so a
# warm function keeps the last few; a transform is safe on any thread (_FLAGS).
@lru_cache(maxsize=16)
def _embedded_transform(icc: bytes | None, mode: str) -> ImageCms.ImageCmsTransform | None:
    """`mode` → sRGB through `icc`, when it is a readable profile of the space
    the pixels are in (not a grey profile on RGB); None otherwise."""
    if not icc or mode not in _ICC_SPACE:
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if profile.profile.xcolor_space != _ICC_SPACE[mode]:
            return None
        out_mode = "RGBA" if mode == "RGBA" else "RGB"
        return ImageCms.buildTransform(profile, _SRGB, mode, out_mode, flags=_FLAGS)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None  # a broken profile: the pixels are taken as sRGB


def grey_transform(icc: bytes | None) -> ImageCms.ImageCmsTransform | None:
    """L → sRGB RGB through `icc` when it is a readable greyscale profile, else None."""
    return _embedded_transform(icc, "L")


@cache
def untagged_cmyk_transform() -> ImageCms.ImageCmsTransform:
    """CMYK (through the shipped press profile) → sRGB, built once (~0.1 s)
    on the first untagged CMYK image, never on import."""
    return ImageCms.buildTransform(
        ImageCms.ImageCmsProfile(str(PRESS_PROFILE)), _SRGB, "CMYK", "RGB",
        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC, flags=_FLAGS,
    )


def untagged_cmyk_to_srgb(image: Image.Image) -> Image.Image:
    """An RGB picture of a CMYK `image` that carries no ICC profile, at once."""
    if image.mode != "CMYK":
        raise ValueError(f"expected a CMYK image, got mode {image.mode}")
    return _applied(untagged_cmyk_transform(), image)


def grey_to_srgb(image: Image.Image) -> Image.Image:
    """`image` (mode L) through its embedded grey profile as RGB, at once; itself when it has none."""
    transform = grey_transform(image.info.get("icc_profile")) if image.mode == "L" else None
    return image if transform is None else _applied(transform, image)


def _applied(transform: ImageCms.ImageCmsTransform, image: Image.Image) -> Image.Image:
    converted = transform.apply(image)
    converted.info = {}  # apply() attaches the sRGB profile; outputs carry none
    return converted


# --- PNG colour keys ----------------------------------------------------------------------

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
        # As normalise scales 16-bit grey: 65535 → 255 (convert("L") would clip).
        grey = words.point(lambda v: v * (1 / 257)).convert("L")
        return Image.merge("LA", (grey, opaque))
    grey = image.convert("L")  # 1-bit comes as mode 1; lower depths are already scaled to 0-255
    level = key * 255 // ((1 << depth) - 1)
    return Image.merge("LA", (grey, grey.point(lambda v: 0 if v == level else 255)))


def _differs(bands: list[Image.Image], key: list[int]) -> Image.Image:
    """255 where any band differs from its key value, 0 where every band matches."""
    masks = [band.point(lambda v, value=value: 255 if v == value else 0) for band, value in zip(bands, key)]
    return ImageChops.invert(reduce(ImageChops.darker, masks))


def _rgb16(image: Image.Image, data: bytes, key: tuple[int, ...]) -> Image.Image:
    """Pillow decoded the high bytes (RGB;16B); decode the low ones too and match both."""
    low = Image.open(io.BytesIO(data), formats=["PNG"])
    low.tile = [tile._replace(args="RGB;16L") for tile in low.tile]  # second byte of each pair
    low.load()
    bands = list(image.split()) + list(low.split())
    opaque = _differs(bands, [k >> 8 for k in key] + [k & 0xFF for k in key])
    return Image.merge("RGBA", (*image.split(), opaque))
