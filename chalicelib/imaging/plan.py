"""Which outputs to render, and process_image, which renders them: decode once
(decode.py), resize each spec largest first (resize.py), encode each distinct
picture once (encode.py) on the pool, outputs that come out the same sharing
one encode; every stage returns here, none calls another back.

Anything unexpected Pillow raises on the way becomes an ImageProcessingError
naming the stage: the same bytes would fail again, so retrying is pointless.
"""

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import replace
from typing import NamedTuple

from PIL import Image, ImageCms

from chalicelib.config import Settings
from chalicelib.crop import Framing, Point
from chalicelib.imaging.colour import normalise
from chalicelib.imaging.decode import as_shown, draft, frame_count, gif_screen, load_frame, open_image
from chalicelib.imaging.decode import orientation_of, read_frames
from chalicelib.imaging.encode import encode, encode_animated, resolve_format
from chalicelib.imaging.placeholder import make_placeholder
from chalicelib.imaging.pool import submit
from chalicelib.imaging.resize import fit
from chalicelib.imaging.types import EncodedRendition, ProcessedImage, SourceInfo, stage
from chalicelib.renditions import DEFAULT_NAME, RenditionSpec

# Animated GIF/WebP/PNG (APNG): the `webp` and `source` outputs keep the
# animation (as animated WebP) when it has at most this many frames and all
# frames together fit in MAX_PIXELS; otherwise, and in every other format, the
# first frame (encode.encode_animated: and when no animated WebP fits its bound).
MAX_ANIMATION_FRAMES = 100

Output = tuple[RenditionSpec, str]  # a rendition spec and its output format (maybe `auto` or `source`)
Still = tuple[int, RenditionSpec, str]  # output index, spec, concrete format
Made = list[tuple[int, EncodedRendition]]  # what an encoder job returns: output index → rendition
Job = Future | Made


def rendition_outputs(settings: Settings) -> list[Output]:
    """Every (rendition, format) to write: `default` in the source's format, then
    each of RENDITIONS in each of OUTPUT_FORMATS."""
    default = RenditionSpec(DEFAULT_NAME, settings.resize_width, settings.resize_height)
    return [(default, "source")] + [(s, f) for s in settings.renditions for f in settings.output_formats]


def process_image(
    data: bytes,
    outputs: Sequence[Output],
    max_pixels: int,
    focus: Point | None = None,
    on_encoded: Callable[[EncodedRendition], None] | None = None,
) -> ProcessedImage:
    """Decode `data` once and encode each (spec, format) of `outputs`.

    A format is `jpeg`, `png`, `webp`, `avif`, `auto`, or `source` (see
    encode.resolve_format). Raises an ImageRejectedError subclass for bytes
    that can never become an image. Animated GIF/WebP/PNG: see MAX_ANIMATION_FRAMES.
    Outputs that come out the same (same picture, same format) are encoded
    once: the later ones carry `same_as`. `cover` crops keep `focus` (x, y in
    0..1 of the upright picture) in frame, or else its most interesting part.
    `on_encoded` gets each rendition that is to be stored (`same_as` None), as
    soon as it is encoded, on any thread; every call has returned by the time
    process_image does, so the caller may write them meanwhile.
    """
    specs = sorted({spec for spec, _ in outputs}, key=lambda s: -s.width * s.height)
    with stage("Decoding the image"):
        picture, colour, source, orientation, extent, animated = _decode(data, specs, max_pixels)

    # Largest first, so each smaller rendition can be cut from a bigger one,
    # and encoding starts as soon as a picture exists. One job per picture,
    # never per output: Image.save() keeps its options on the image object, so
    # two threads saving one picture would swap their JPEG and WebP settings.
    plan = OutputPlan(outputs, source.format, animated)
    report = _Reporter(outputs, on_encoded)
    framing = Framing(focus)
    resized: dict[RenditionSpec, Image.Image] = {}
    unresized: list[Still] = []  # outputs of `picture` itself
    jobs: list[Job] = []
    submitted: set[int] = set()  # ids of pictures an encoder job already holds
    for spec in specs:
        with stage("Resizing the image"):
            made = fit(picture, spec, resized, extent, framing, orientation, colour)
        target = resized[spec] = plan.same_picture(resized, spec, made)
        stills = plan.claim(spec, target)
        if target is picture:
            unresized += stills
        elif stills:  # a picture already being saved on a thread is copied (its save options)
            jobs.append(submit(_encode_picture, target.copy() if id(target) in submitted else target,
                               stills, report))
            submitted.add(id(target))
    report.names_known(plan.keepers())
    if unresized:
        jobs.append(submit(_encode_picture, picture, unresized, report))
    with stage("Making the placeholder"):
        placeholder = make_placeholder(resized[specs[-1]]) if specs else None
    del picture, resized  # the full-size pixels can go while encoders finish
    if plan.moving:
        jobs += _animate(data, source, orientation, max_pixels, plan.moving, framing, report)
    done = dict(pair for job in jobs for pair in (job.result() if isinstance(job, Future) else job))
    return ProcessedImage(source, plan.assemble(done), placeholder)


class _Decoded(NamedTuple):
    picture: Image.Image  # frame 0 as stored (EXIF orientation not applied), normalised, no metadata
    to_srgb: ImageCms.ImageCmsTransform | None
    source: SourceInfo
    orientation: int
    extent: tuple[float, float] | None  # see decode.draft
    animated: bool  # the `webp` and `source` outputs keep the animation


def _decode(data: bytes, specs: list[RenditionSpec], max_pixels: int) -> _Decoded:
    image, source_format = open_image(data, max_pixels)
    orientation = orientation_of(image)
    screen = gif_screen(image, data)  # a GIF's logical screen is its canvas
    width, height = screen.screen if screen else image.size
    display_size = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
    frames = frame_count(image)
    animated = 1 < frames <= MAX_ANIMATION_FRAMES and frames * width * height <= max_pixels
    extent = draft(image, display_size, specs)
    # As stored: each rendition is turned upright once resized (far fewer pixels).
    # Only `picture` leaves here: a converted decode leaves `image` holding a
    # second full-size copy (13 MB for a 24 MP photo at 3/8) until the end.
    picture, transform = normalise(as_shown(load_frame(image), data, screen))
    picture.info = {}  # never carry EXIF, GPS, XMP, ICC or comments into outputs
    source = SourceInfo(source_format, *display_size, frames=frames)
    return _Decoded(picture, transform, source, orientation, extent, animated)


class OutputPlan:
    """De-duplication: which output's encode makes each output's bytes, and
    which output stores them.

    Two outputs are the same when they are the same picture in the same
    concrete format, or the same animated size. The first output to claim a
    picture and format makes it; a later one carries `same_as`, pointing at
    the first output, in `outputs` order, that makes those bytes.
    """

    def __init__(self, outputs: Sequence[Output], source_format: str, animated: bool) -> None:
        self._outputs, self._source_format, self._animated = outputs, source_format, animated
        self._first: dict[tuple, int] = {}  # what an output is → the first output index that makes it
        self._same_as: dict[int, int] = {}
        self._maker: list[int] = []  # the output whose encode made i's bytes
        self._keeper: dict[int, int] = {}  # ... and the first output, in `outputs` order, that stores them
        self.moving: dict[tuple[int, int], tuple[int, RenditionSpec]] = {}  # animated size → its output

    @staticmethod
    def same_picture(resized: dict[RenditionSpec, Image.Image], spec: RenditionSpec,
                     made: Image.Image) -> Image.Image:
        """An already resized picture that `made` (spec's picture) equals, else `made`.

        Two boxes that give the same pixel size give the same picture (a crop
        to that size is the whole frame), unless one is a plain centre crop.
        """
        same = [p for other, p in resized.items() if p.size == made.size and other.centred == spec.centred]
        return same[0] if same else made

    def claim(self, spec: RenditionSpec, target: Image.Image) -> list[Still]:
        """The stills `target`, spec's picture, must be encoded to; outputs
        an earlier encode already makes are noted, animated ones kept in `moving`."""
        stills = []
        for i, (output_spec, fmt) in enumerate(self._outputs):
            if output_spec != spec:
                continue
            # Not `auto`: with the default OUTPUT_FORMATS (auto,webp) it would
            # be a second animated WebP under the same key as `webp`'s.
            if self._animated and fmt in ("webp", "source"):
                what: tuple = ("animation", target.size)
            else:
                what = ("still", id(target), resolve_format(fmt, self._source_format, target))
            if what in self._first:
                self._same_as[i] = self._first[what]
                continue
            self._first[what] = i
            if what[0] == "animation":
                self.moving[target.size] = (i, spec)
            else:
                stills.append((i, spec, what[2]))
        return stills

    def keepers(self) -> dict[int, int]:
        """Once every spec is claimed: each making output → the output that stores its bytes."""
        self._maker = [self._same_as.get(i, i) for i in range(len(self._outputs))]
        for i, made_by in enumerate(self._maker):
            self._keeper.setdefault(made_by, i)
        return self._keeper

    def assemble(self, done: dict[int, EncodedRendition]) -> list[EncodedRendition]:
        """One rendition per output, in `outputs` order, from what each making output encoded."""
        return [
            replace(done[made_by], name=spec.name,
                    same_as=None if self._keeper[made_by] == i else self._keeper[made_by])
            for i, ((spec, _), made_by) in enumerate(zip(self._outputs, self._maker))
        ]


class _Reporter:
    """Hands process_image's stored renditions to `on_encoded` as they are encoded.

    A rendition is stored under the name of the first output, in `outputs`
    order, that shares its bytes; a smaller spec resized later may be that
    output, so renditions encoded before every spec is resized wait here
    until `names_known`. Encoder jobs report each rendition before they
    return: a caller that has every job's result has had every call.
    """

    def __init__(self, outputs: Sequence[Output], on_encoded: Callable[[EncodedRendition], None] | None) -> None:
        self._outputs, self._on_encoded = outputs, on_encoded
        self._lock = threading.Lock()
        self._keeper: dict[int, int] | None = None
        self._waiting: Made = []

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

    def _hand_over(self, made: Made) -> None:
        if self._on_encoded is None or self._keeper is None:
            return
        for made_by, rendition in made:
            self._on_encoded(replace(rendition, name=self._outputs[self._keeper[made_by]][0].name))


def _encode_picture(picture: Image.Image, wanted: list[Still], report: _Reporter) -> Made:
    """Each (output index, spec, concrete format) of one picture (already in
    sRGB: resize.fit), in turn, each reported as soon as it is encoded (the
    first can be written while the picture's slower format encodes)."""
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
) -> list[Job]:
    """Decode the frames once, resize each to every animated size, and
    encode one animated WebP per size (see encode.encode_animated for the byte bound)."""
    def resize_frame(frame: Image.Image) -> dict[tuple[int, int], Image.Image]:
        made: dict[RenditionSpec, Image.Image] = {}
        for _, spec in moving.values():  # largest first, as `moving` was filled
            made[spec] = fit(frame, spec, made, framing=framing)
        return {size: made[spec] for size, (_, spec) in moving.items()}

    with stage("Decoding the animation frames"):
        frames, durations, loop = read_frames(data, source.format, orientation, max_pixels, resize_frame)
    full_size = (source.width, source.height)
    return [
        submit(_encode_animation, output, frames[size], durations, loop, len(data), size != full_size, report)
        for size, output in moving.items()
    ]


def _encode_animation(
    wanted: tuple[int, RenditionSpec], frames: list[Image.Image], durations: list[int],
    loop: int, limit: int, resized: bool, report: _Reporter,
) -> Made:
    with stage("Encoding the animated webp rendition"):
        data, kept = encode_animated(frames, durations, loop, limit, resized)
    i, spec = wanted
    made = (i, EncodedRendition(spec.name, "webp", *frames[0].size, data, frames=kept))
    report.encoded(*made)
    return [made]
