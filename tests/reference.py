"""An independent reference rendering, and how far a rendition may stray from it.

libvips (pyvips, a dev requirement) decodes the source, turns it upright,
converts it to sRGB through its embedded profile (untagged CMYK through
libvips' built-in press profile, as browsers do) and keeps alpha and every
frame. Where libvips has no loader (BMP in the pyvips binary wheel) or is
known to show a file differently from browsers (it grows a GIF's canvas to a
frame that overflows the logical screen), the generator's true pixels stand
in: `reference_frames` says which one it used.

`compare` checks one rendition against the reference: size and aspect (the
fit box, never upscaled), orientation and colour (mean absolute level
difference of both composited on mid-grey, so a lost alpha shows too),
alpha present where the source has it (and its mean close), frame count.
"""

import io
from collections.abc import Sequence
from dataclasses import dataclass, field

from PIL import Image, ImageChops, ImageStat

from chalicelib.imaging.encode import encode
from chalicelib.renditions import COVER, RenditionSpec

try:
    import pyvips
except (ImportError, OSError):  # no libvips on this machine: only analytic references
    pyvips = None

# Output formats that can carry alpha, and the one that keeps animation.
_ALPHA_FORMATS = ("png", "webp", "avif")
BACKDROP = (128, 128, 128)
_WHITE = (255, 255, 255)
# How much more than the output codec's own loss a rendition may differ:
# the loss is measured by encoding the reference frame the same way (JPEG
# q82, WebP q80), which for small sharp-edged pictures is several levels.
CODEC_MARGIN = 1.5


@dataclass
class Reference:
    frames: list[Image.Image]  # RGB or RGBA, upright, sRGB, at the source's displayed size
    decoder: str  # "libvips" or "truth"

    @property
    def size(self) -> tuple[int, int]:
        return self.frames[0].size

    @property
    def alpha(self) -> bool:
        return any(f.mode == "RGBA" and f.getchannel("A").getextrema()[0] < 255 for f in self.frames)


@dataclass
class Comparison:
    problems: list[str] = field(default_factory=list)
    difference: float = 0.0  # mean absolute level difference, 0-255
    alpha_difference: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


def vips_frames(data: bytes) -> list[Image.Image] | None:
    """libvips' rendering of `data`, one PIL image per frame; None when libvips cannot load it."""
    if pyvips is None:
        return None
    try:
        try:
            image = pyvips.Image.new_from_buffer(data, "", n=-1)
        except pyvips.Error:  # loaders without pages (PNG, JPEG) refuse the option
            image = pyvips.Image.new_from_buffer(data, "")
        pages = image.get_n_pages() if image.get_typeof("n-pages") else 1
        page_height = image.get("page-height") if image.get_typeof("page-height") else image.height
        if pages <= 1:  # a still: turn it upright (a page's height changes with it)
            image = image.autorot()
            page_height = image.height
        if image.interpretation == "cmyk":
            image = image.icc_transform("srgb", embedded=True, input_profile="cmyk")
        elif image.get_typeof("icc-profile-data"):
            image = image.icc_transform("srgb", embedded=True)
        image = image.colourspace("srgb")
        if image.format != "uchar":
            image = image.cast("uchar")
        mode = {3: "RGB", 4: "RGBA"}[image.bands]
        count = max(1, image.height // page_height)
        return [
            Image.frombytes(mode, (image.width, page_height),
                            image.crop(0, i * page_height, image.width, page_height).write_to_memory())
            for i in range(count)
        ]
    except pyvips.Error:
        return None


def reference_frames(
    data: bytes, truth: Sequence[Image.Image] | None = None, trust_vips: bool = True
) -> Reference:
    """libvips' rendering where it can, else (or when not `trust_vips`) the known truth."""
    frames = vips_frames(data) if trust_vips or truth is None else None
    if frames is not None:
        return Reference(frames, "libvips")
    if truth is None:
        raise ValueError("libvips cannot load this file and no true pixels were given")
    return Reference(list(truth), "truth")


def expected_size(spec: RenditionSpec, source: tuple[int, int]) -> tuple[int, int]:
    """The rendition size the README promises: fit inside the box, never upscaled;
    a cover crop fills the box, or crops a smaller source to the box's aspect."""
    width, height = source
    ratios = (spec.width / width, spec.height / height)
    if spec.mode == COVER:
        scale = max(ratios)
        if scale > 1:
            return round(spec.width / scale), round(spec.height / scale)
        return spec.width, spec.height
    scale = min(min(ratios), 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def rendition_frames(data: bytes) -> list[Image.Image]:
    """Every frame of an encoded rendition, as RGB or RGBA."""
    image = Image.open(io.BytesIO(data))
    frames = []
    for number in range(getattr(image, "n_frames", 1)):
        image.seek(number)
        alpha = "A" in image.mode or "transparency" in image.info
        frames.append(image.convert("RGBA" if alpha else "RGB"))
    return frames


def composite(frame: Image.Image, backdrop: tuple[int, int, int]) -> Image.Image:
    """`frame` as shown on a plain `backdrop` (RGB)."""
    if frame.mode != "RGBA":
        return frame.convert("RGB")
    flat = Image.new("RGB", frame.size, backdrop)
    flat.paste(frame, mask=frame.getchannel("A"))
    return flat


def mean_difference(a: Image.Image, b: Image.Image, backdrop: tuple[int, int, int] = BACKDROP) -> float:
    """Mean absolute level difference (0-255) of two same-size frames shown on `backdrop`."""
    return sum(ImageStat.Stat(ImageChops.difference(composite(a, backdrop), composite(b, backdrop))).mean) / 3


def codec_loss(frame: Image.Image, fmt: str, backdrop: tuple[int, int, int] = BACKDROP) -> float:
    """What encoding `frame` as `fmt` with imgpipe's settings costs by itself
    (mean level difference): calibrates the tolerance, judges nothing."""
    if fmt == "png":
        return 0.0
    encoded = Image.open(io.BytesIO(encode(frame, fmt)))
    encoded = encoded.convert("RGBA" if "A" in encoded.mode else "RGB")
    return mean_difference(encoded, frame, _WHITE if fmt == "jpeg" else backdrop)


def _mean_alpha(frame: Image.Image) -> float:
    return ImageStat.Stat(frame.getchannel("A")).mean[0] if frame.mode == "RGBA" else 255.0


def compare(
    rendition_data: bytes, fmt: str, spec: RenditionSpec, reference: Reference,
    tolerance: float, animated: bool | None = None,
) -> Comparison:
    """How `rendition_data` (encoded as `fmt`, for `spec`) differs from `reference`.

    `animated`: whether this output must keep every frame (None: not checked).
    Colours are compared only for `fit` renditions: a cover crop's placement
    is imgpipe's own choice (saliency), not something a decoder decides.
    """
    result = Comparison()
    frames = rendition_frames(rendition_data)
    want = expected_size(spec, reference.size)
    got = frames[0].size
    if abs(got[0] - want[0]) > 1 or abs(got[1] - want[1]) > 1:
        result.problems.append(f"size {got[0]}x{got[1]}, expected {want[0]}x{want[1]}")
        return result
    if animated is not None:
        expected_count = len(reference.frames) if animated else 1
        if len(frames) != expected_count:
            result.problems.append(f"{len(frames)} frames, expected {expected_count}")
    if reference.alpha and fmt in _ALPHA_FORMATS:
        if not any(f.mode == "RGBA" and f.getchannel("A").getextrema()[0] < 255 for f in frames):
            result.problems.append("opaque, but the source has transparency")
    if spec.mode == COVER:
        return result
    backdrop = _WHITE if fmt == "jpeg" else BACKDROP  # imgpipe flattens JPEGs on white
    differences, alpha_differences, losses = [], [], []
    for made, wanted in zip(frames, reference.frames):
        if wanted.size != made.size:
            wanted = wanted.resize(made.size, Image.Resampling.LANCZOS)
        differences.append(mean_difference(made, wanted, backdrop))
        losses.append(codec_loss(wanted, fmt, backdrop))
        if fmt in _ALPHA_FORMATS:
            alpha_differences.append(abs(_mean_alpha(made) - _mean_alpha(wanted)))
    result.difference = max(differences)
    result.alpha_difference = max(alpha_differences, default=0.0)
    tolerance += CODEC_MARGIN * max(losses, default=0.0)
    if result.difference > tolerance:
        result.problems.append(
            f"mean colour difference {result.difference:.1f} levels (tolerance {tolerance:.1f})"
        )
    if result.alpha_difference > max(tolerance, 8):
        result.problems.append(f"mean alpha differs by {result.alpha_difference:.1f} levels")
    return result
