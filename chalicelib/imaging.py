"""Pure Pillow: image bytes in, encoded renditions and metadata out.

No AWS and no HTTP here, so the same code serves Lambda, `make run` and
`python -m imgpipe resize`. decoding.py turns hostile bytes into pixels
safely; this module colour-manages, resizes and hands pictures to encoding.py
(animations to animation.py). Anything unexpected Pillow raises on the way
becomes an ImageProcessingError naming the stage: the same bytes would fail
again, so retrying is pointless.
"""

import io
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from PIL import Image, ImageCms

from chalicelib.animation import encode_animated, read_frames
from chalicelib.decoding import frame_count, load_frame, open_image, orientation_of, stored_box, upright
from chalicelib.encoding import encode, resolve_format
from chalicelib.errors import ImageProcessingError, ImgpipeError
from chalicelib.placeholder import Placeholder, make_placeholder
from chalicelib.crop import CENTRE, SALIENCY_EDGE, Framing, Point, place_crop
from chalicelib.renditions import CONTENT_TYPES, COVER, RenditionSpec

# Animated GIF/WebP: the `webp` and `source` outputs keep the animation (as
# animated WebP) when it has at most this many frames and all frames together
# fit in MAX_PIXELS; otherwise, and in every other format, the first frame.
MAX_ANIMATION_FRAMES = 100
# Lambda gives 1 vCPU per 1769 MB of memory; below that a pool only adds overhead.
_CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
# Pillow releases the GIL while it resamples and encodes, so encoders on
# threads run in parallel with the next rendition's resize.
_POOL = ThreadPoolExecutor(_CPUS, thread_name_prefix="encode") if _CPUS > 1 else None
# reducing_gap: a box-filter reduce() by an integer factor first while the
# result stays ≥ 2× the target (libvips' shrink, then lanczos3 reduce). It
# only engages for large non-JPEG sources; JPEGs shrank in draft().
_GAP = 2.0
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
# The ICC colour space a mode's pixels must be in for a transform to apply.
_ICC_SPACE = {"RGB": "RGB ", "RGBA": "RGB ", "CMYK": "CMYK"}


@dataclass(frozen=True)
class SourceInfo:
    format: str
    width: int
    height: int
    frames: int = 1  # > 1 for an animated GIF or WebP


@dataclass(frozen=True)
class EncodedRendition:
    name: str
    format: str
    width: int
    height: int
    data: bytes
    frames: int = 1  # > 1 when the animation was kept
    # Index (in ProcessedImage.renditions) of an earlier rendition with the same
    # bytes: store that one object once and point this entry at its key.
    same_as: int | None = None

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


@dataclass(frozen=True)
class ProcessedImage:
    source: SourceInfo
    renditions: list[EncodedRendition]
    placeholder: Placeholder | None = field(default=None)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Turn anything but a domain error (or MemoryError, which a retry with
    more room may survive) into ImageProcessingError("{name} failed.")."""
    try:
        yield
    except (ImgpipeError, MemoryError):
        raise
    except Exception as exc:
        raise ImageProcessingError(name) from exc


def process_image(
    data: bytes,
    outputs: Sequence[tuple[RenditionSpec, str]],
    max_pixels: int,
    focus: Point | None = None,
    on_encoded: Callable[[EncodedRendition], None] | None = None,
) -> ProcessedImage:
    """Decode `data` once and encode each (spec, format) of `outputs`.

    A format is `jpeg`, `png`, `webp`, `avif`, `auto`, or `source` (see
    encoding.resolve_format). Raises an ImageRejectedError subclass for bytes
    that can never become an image. Animated GIF/WebP: see MAX_ANIMATION_FRAMES.
    Outputs that come out the same (same picture, same format) are encoded
    once: the later ones carry `same_as`. `cover` crops keep `focus` (x, y in
    0..1 of the upright picture) in frame, or else its most interesting part.
    `on_encoded` gets each rendition that is to be stored (`same_as` None), as
    soon as it is encoded, on any thread; every call has returned by the time
    process_image does, so the caller may write them meanwhile.
    """
    with stage("Decoding the image"):
        image, source_format = open_image(data, max_pixels)
        orientation = orientation_of(image)
        width, height = image.size
        display_size = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
        frames = frame_count(image)
        animated = 1 < frames <= MAX_ANIMATION_FRAMES and frames * width * height <= max_pixels
        specs = sorted({spec for spec, _ in outputs}, key=lambda s: -s.width * s.height)
        extent = _draft(image, display_size, specs)
        # As stored: each rendition is turned upright once resized (far fewer pixels).
        picture, to_srgb = _normalise(load_frame(image))
    # Only `picture` from here on: a converted decode leaves `image` holding a
    # second full-size copy (13 MB for a 24 MP photo at 3/8) until the end.
    del image
    picture.info = {}  # never carry EXIF, GPS, XMP, ICC or comments into outputs
    source = SourceInfo(source_format, *display_size, frames=frames)

    # Largest first, so each smaller rendition can be cut from a bigger one,
    # and encoding starts as soon as a picture exists. One job per picture,
    # never per output: Image.save() keeps its options on the image object, so
    # two threads saving one picture would swap their JPEG and WebP settings.
    resized: dict[RenditionSpec, Image.Image] = {}
    first: dict[tuple, int] = {}  # what an output is → the first output index that makes it
    same_as: dict[int, int] = {}
    unresized: list[tuple[int, RenditionSpec, str]] = []  # outputs of `picture` itself
    moving: dict[tuple[int, int], tuple[int, RenditionSpec]] = {}  # animated size → its output
    jobs: list[Future | list[tuple[int, EncodedRendition]]] = []
    submitted: set[int] = set()  # ids of pictures an encoder job already holds
    framing = Framing(focus)
    report = _Reporter(outputs, on_encoded)
    for spec in specs:
        with stage("Resizing the image"):
            # Until the first encoder job, the pool is idle: the resize may use it.
            made = _resize(picture, spec, resized, extent, framing, orientation, split=not jobs)
        # Two boxes that give the same pixel size give the same picture (a crop
        # to that size is the whole frame), unless one is a plain centre crop.
        same = [p for other, p in resized.items() if p.size == made.size and other.centred == spec.centred]
        target = resized[spec] = same[0] if same else made
        stills = []
        for i, (output_spec, fmt) in enumerate(outputs):
            if output_spec != spec:
                continue
            # Not `auto`: with the default OUTPUT_FORMATS (auto,webp) it would
            # be a second animated WebP under the same key as `webp`'s.
            if animated and fmt in ("webp", "source"):
                what: tuple = ("animation", target.size)
            else:
                what = ("still", id(target), resolve_format(fmt, source_format, target))
            if what in first:
                same_as[i] = first[what]
                continue
            first[what] = i
            if what[0] == "animation":
                moving[target.size] = (i, spec)
            else:
                stills.append((i, spec, what[2]))
        if target is picture:
            unresized += stills
        elif stills:  # a picture already being saved on a thread is copied (its save options)
            jobs.append(_submit(_encode_picture, [target.copy() if id(target) in submitted else target],
                                stills, to_srgb, report))
            submitted.add(id(target))
    maker = [same_as.get(i, i) for i in range(len(outputs))]  # the output whose encode made i's bytes
    keeper: dict[int, int] = {}  # ... and the first output, in `outputs` order, that stores them
    for i, made_by in enumerate(maker):
        keeper.setdefault(made_by, i)
    report.names_known(keeper)
    if unresized:
        jobs.append(_submit(_encode_picture, [picture], unresized, to_srgb, report))
    with stage("Making the placeholder"):
        placeholder = make_placeholder(resized[specs[-1]], to_srgb) if specs else None
    del picture, resized  # the full-size pixels can go while encoders finish
    if moving:
        jobs += _animate(data, source, orientation, max_pixels, moving, framing, report)
    done = dict(pair for job in jobs for pair in (job.result() if isinstance(job, Future) else job))
    renditions = [
        replace(done[made_by], name=spec.name, same_as=None if keeper[made_by] == i else keeper[made_by])
        for i, ((spec, _), made_by) in enumerate(zip(outputs, maker))
    ]
    return ProcessedImage(source, renditions, placeholder)


def _submit(fn, *args) -> Future | list[tuple[int, EncodedRendition]]:
    return _POOL.submit(fn, *args) if _POOL else fn(*args)


class _Reporter:
    """Hands process_image's stored renditions to `on_encoded` as they are encoded.

    A rendition is stored under the name of the first output, in `outputs`
    order, that shares its bytes; a smaller spec resized later may be that
    output, so renditions encoded before every spec is resized wait here
    until `names_known`. Encoder jobs report each rendition before they
    return: a caller that has every job's result has had every call.
    """

    def __init__(self, outputs: Sequence[tuple[RenditionSpec, str]],
                 on_encoded: Callable[[EncodedRendition], None] | None) -> None:
        self._outputs, self._on_encoded = outputs, on_encoded
        self._lock = threading.Lock()
        self._keeper: dict[int, int] | None = None
        self._waiting: list[tuple[int, EncodedRendition]] = []

    def encoded(self, made_by: int, rendition: EncodedRendition) -> None:
        with self._lock:
            if self._keeper is None:
                self._waiting.append((made_by, rendition))
                return
        self._hand_over([(made_by, rendition)])

    def names_known(self, keeper: dict[int, int]) -> None:
        with self._lock:
            self._keeper, waiting, self._waiting = keeper, self._waiting, []
        self._hand_over(waiting)

    def _hand_over(self, made: list[tuple[int, EncodedRendition]]) -> None:
        if self._on_encoded is None or self._keeper is None:
            return
        for made_by, rendition in made:
            self._on_encoded(replace(rendition, name=self._outputs[self._keeper[made_by]][0].name))


def _encode_picture(
    holder: list[Image.Image],
    wanted: list[tuple[int, RenditionSpec, str]],
    to_srgb: ImageCms.ImageCmsTransform | None,
    report: _Reporter,
) -> list[tuple[int, EncodedRendition]]:
    """Each (output index, spec, concrete format) of one picture, in turn,
    each reported as soon as it is encoded (the first can be written while
    the picture's slower format encodes).

    The picture comes in a one-item list, taken out here: an executor holds a
    call's arguments until it returns, which would keep the picture before its
    sRGB conversion (11 MB at 2048 px) alive through the slow WebP encode.
    """
    picture = holder.pop()
    with stage("Converting the colours to sRGB"):
        picture = _to_srgb(picture, to_srgb)
    encoded = []
    for i, spec, fmt in wanted:
        with stage(f"Encoding the {fmt} rendition"):
            data = encode(picture, fmt)
        encoded.append((i, EncodedRendition(spec.name, fmt, *picture.size, data)))
        report.encoded(*encoded[-1])
    return encoded


def _animate(
    data: bytes, source: SourceInfo, orientation: int, max_pixels: int,
    moving: dict[tuple[int, int], tuple[int, RenditionSpec]], framing: Framing, report: _Reporter,
) -> list[Future | list[tuple[int, EncodedRendition]]]:
    """Decode the frames once, resize each to every animated size, and
    encode one animated WebP per size (see animation.py for the byte bound)."""
    def resize_frame(frame: Image.Image) -> dict[tuple[int, int], Image.Image]:
        made: dict[RenditionSpec, Image.Image] = {}
        for _, spec in moving.values():  # largest first, as `moving` was filled
            made[spec] = _resize(frame, spec, made, framing=framing)
        return {size: made[spec] for size, (_, spec) in moving.items()}

    with stage("Decoding the animation frames"):
        frames, durations, loop = read_frames(data, source.format, orientation, max_pixels, resize_frame)
    full_size = (source.width, source.height)
    return [
        _submit(_encode_animation, output, frames[size], durations, loop, len(data), size != full_size,
                report)
        for size, output in moving.items()
    ]


def _encode_animation(
    wanted: tuple[int, RenditionSpec], frames: list[Image.Image], durations: list[int],
    loop: int, limit: int, resized: bool, report: _Reporter,
) -> list[tuple[int, EncodedRendition]]:
    with stage("Encoding the animated webp rendition"):
        data, kept = encode_animated(frames, durations, loop, limit, resized)
    i, spec = wanted
    made = (i, EncodedRendition(spec.name, "webp", *frames[0].size, data, frames=kept))
    report.encoded(*made)
    return [made]


# Decode scales in eighths, and how much larger than the largest output each
# must stay. 1/8 and 1/4 average 8x8 and 4x4 blocks and would blur: keep 2x
# for the final LANCZOS, as libvips' thumbnail does. 3/8 and 1/2 are scaled
# IDCTs as sharp as their size, used whenever they cover the output: SSIM
# stayed within 0.0035 of libvips on the bench photos (docs/PERFORMANCE.md).
# 3/8 instead of 1/2 halves the LANCZOS work of a 12 MP photo's 800x600, and
# instead of 1/2 for a 24 MP photo's 2048 px it saves 21 MB of peak memory.
_EIGHTHS = ((1, 2.0), (2, 2.0), (3, 1.0), (4, 1.0))


def _draft(
    image: Image.Image, display_size: tuple[int, int], specs: list[RenditionSpec]
) -> tuple[float, float] | None:
    """Let libjpeg decode at 1/8, 1/4, 3/8 or 1/2 scale (DCT scaling), which
    costs less time and memory than resampling the full image.

    Returns the exact extent of the source in decoded pixels, upright (e.g.
    901.125 rows for 2403 at 3/8, where the decoder gives 902), or None when
    the image is decoded at full size; resizing from that box keeps the
    renditions aligned with the source.
    """
    if image.format not in ("JPEG", "MPO") or not specs or image.decoderconfig or image.info.get("lossless"):
        return None  # libjpeg has no DCT scaling for lossless JPEG
    width, height = display_size
    scale = max(min(_scale(spec, width, height), 1.0) for spec in specs)
    usable = [(k, headroom) for k, headroom in _EIGHTHS if k != 3 or _THREE_EIGHTHS]
    eighths = next((k for k, headroom in usable if k / 8 >= scale * headroom), None)
    if eighths is None or not _draft_eighths(image, eighths):
        return None
    return width * eighths / 8, height * eighths / 8


def _draft_eighths(image: Image.Image, eighths: int) -> bool:
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


def _three_eighths_works() -> bool:
    """3/8 goes through Pillow's internals (tile, size, decoderconfig): check
    once, on a 16x16 JPEG, that this Pillow still decodes that way; if not,
    keep to draft()'s own scales rather than fail on real images."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(buffer, "JPEG")
    try:
        image = Image.open(buffer)
        if not _draft_eighths(image, 3):
            return False
        image.load()
        return image.size == (6, 6) and abs(image.getpixel((3, 3))[0] - 200) < 8
    except Exception:  # any failure only means: do not use 3/8
        return False


_THREE_EIGHTHS = _three_eighths_works()


def _scale(spec: RenditionSpec, width: int, height: int) -> float:
    ratios = (spec.width / width, spec.height / height)
    return max(ratios) if spec.mode == COVER else min(ratios)


def _normalise(image: Image.Image) -> tuple[Image.Image, ImageCms.ImageCmsTransform | None]:
    """Bring any mode to 8-bit L, RGB, RGBA, or CMYK with a profile; and the
    transform from its ICC profile to sRGB, if it has one.

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
    transform = None
    icc = image.info.get("icc_profile")
    if icc and image.mode in _ICC_SPACE:
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if profile.profile.xcolor_space == _ICC_SPACE[image.mode]:  # not a grey profile on RGB
                transform = ImageCms.buildTransform(
                    profile, _SRGB, image.mode, "RGBA" if image.mode == "RGBA" else "RGB",
                    # lcms2's one-pixel cache is not thread-safe; encoders share this.
                    flags=ImageCms.Flags.NOCACHE,
                )
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # a broken profile: fall back to treating the pixels as sRGB
    if image.mode == "CMYK" and transform is None:
        image = image.convert("RGB")
    return image, transform


def _to_srgb(picture: Image.Image, transform: ImageCms.ImageCmsTransform | None) -> Image.Image:
    if transform is None:
        return picture
    picture = transform.apply(picture)
    picture.info = {}  # apply() attaches the sRGB profile; outputs carry none
    return picture


def _resize(
    image: Image.Image,
    spec: RenditionSpec,
    made: dict[RenditionSpec, Image.Image],
    extent: tuple[float, float] | None = None,
    framing: Framing | None = None,
    orientation: int = 1,
    split: bool = False,
) -> Image.Image:
    """Fit or cover-crop `image` into the spec's box, never upscaling; a cover
    crop is placed by `framing` (centred without one, or for `cover:center`).

    `image` is as stored, with its EXIF `orientation` still to apply; `made`
    renditions and the result are upright. `extent` is the source's exact
    upright size in `image`'s pixels when a DCT-scaled decode rounded it up
    (see _draft). Resamples from the smallest already-made full-frame
    rendition that still has twice the pixels needed, which costs far less
    than starting from the full image each time and looks the same.
    `split`: the pool is idle, so _lanczos may resample half of the output on it.
    """
    turned = orientation in (5, 6, 7, 8)  # stored width is the upright height
    width, height = extent or (image.size[::-1] if turned else image.size)
    scale = _scale(spec, width, height)
    if spec.mode == COVER:
        if scale > 1:  # too small to fill the box: crop to its aspect, no resampling
            size = (round(spec.width / scale), round(spec.height / scale))
        else:
            size = (spec.width, spec.height)
        crop_w, crop_h = size[0] / min(scale, 1), size[1] / min(scale, 1)
    else:
        scale = min(scale, 1.0)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        crop_w, crop_h = width, height
    centre = CENTRE
    if spec.mode == COVER and framing and not spec.centred and (crop_w < width or crop_h < height):
        fits = [other for other_spec, other in made.items() if other_spec.mode != COVER]
        smallest = min(fits, key=lambda p: p.width) if fits else _preview(image, orientation)
        centre = framing.centre((width, height), (crop_w, crop_h), smallest)
    box = place_crop((width, height), (crop_w, crop_h), centre)
    if size == (image.size[::-1] if turned else image.size) and box == (0, 0, width, height):
        return upright(image, orientation)

    base, base_width = image, (image.height if turned else image.width)
    for other_spec, other in made.items():
        ratio_x, ratio_y = other.width / width, other.height / height
        if (
            other_spec.mode != COVER
            and crop_w * ratio_x >= 2 * size[0]
            and crop_h * ratio_y >= 2 * size[1]
            and other.width < base_width
        ):
            base, base_width = other, other.width
    if base is image:  # `box` is in upright pixels of `image`: cut the stored picture, then turn
        stored = stored_box(box, (height, width) if turned else (width, height), orientation)
        made_size = size[::-1] if turned else size
        return upright(_lanczos(image, made_size, stored, split), orientation)
    # A made rendition covers exactly (width, height).
    ratio_x, ratio_y = base.width / width, base.height / height
    scaled_box = (box[0] * ratio_x, box[1] * ratio_y, box[2] * ratio_x, box[3] * ratio_y)
    return _lanczos(base, size, scaled_box, split)


# Below this many output pixels, handing half a resize to a thread costs more than it saves.
_SPLIT_PIXELS = 250_000


def _lanczos(
    image: Image.Image, size: tuple[int, int], box: tuple[float, float, float, float], split: bool
) -> Image.Image:
    """LANCZOS of `box` to `size`. With `split` (and a pool), half of the output
    is resampled on the pool while this thread does the other half.

    The same pixels as one call, to within a level where the box's float32
    coordinates round differently (Pillow's filter reads past `box` up to the
    picture's edges), because each half keeps the pass order of the whole:
    Pillow resamples vertically first when the height shrinks more than twice
    as much as the width (Resample.c), so the halves are cut along the axis of
    the second pass. Not split when reducing_gap engages (a reduce() aligned to
    the box would differ).
    """
    scale = ((box[2] - box[0]) / size[0], (box[3] - box[1]) / size[1])
    if not (split and _POOL and size[0] * size[1] >= _SPLIT_PIXELS and max(scale) < 2 * _GAP):
        return image.resize(size, Image.Resampling.LANCZOS, box=box, reducing_gap=_GAP)
    shrink = image.height - size[1]
    axis = 1 if shrink > 0 and shrink > 2 * (image.width - size[0]) else 0  # 1: vertical pass first
    cut = size[axis] // 2
    middle = box[axis] + cut * scale[axis]
    first_size, second_size, first_box, second_box = list(size), list(size), list(box), list(box)
    first_size[axis], second_size[axis] = cut, size[axis] - cut
    first_box[axis + 2], second_box[axis] = middle, middle
    second = _POOL.submit(image.resize, tuple(second_size), Image.Resampling.LANCZOS, box=tuple(second_box))
    first = image.resize(tuple(first_size), Image.Resampling.LANCZOS, box=tuple(first_box))
    whole = Image.new(image.mode, size)
    whole.paste(first, (0, 0))
    whole.paste(second.result(), (cut, 0) if axis == 0 else (0, cut))
    return whole


def _preview(image: Image.Image, orientation: int) -> Image.Image:
    """An upright copy of at most SALIENCY_EDGE pixels a side, for a cover crop's
    interest map when no smaller rendition exists yet (as crop.measure_interest shrinks)."""
    scale = min(1.0, SALIENCY_EDGE / max(image.size))
    small = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                         Image.Resampling.BOX)
    return upright(small, orientation)
