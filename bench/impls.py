"""The implementations under test, each a function `run(data, workload) -> outputs`.

An output is (name, format, width, height, encoded bytes). Every
implementation gets the file's bytes already in memory, as the handler does.
"""

import io
import os
from collections.abc import Callable

# (name, long edge, format, quality): W1 is the handler's default rendition,
# W2 a typical responsive set. Sizes are boxes: fit inside, never upscale.
WORKLOADS: dict[str, list[tuple[str, int, int, str, int]]] = {
    "W1": [("default", 800, 600, "jpeg", 82)],
    "W2": [
        (f"r{edge}", edge, edge, fmt, quality)
        for edge in (2048, 1024, 320)
        for fmt, quality in (("jpeg", 82), ("webp", 80))
    ],
}
# W3 is W2 plus AVIF for each size: the opt-in format's cost.
WORKLOADS["W3"] = WORKLOADS["W2"] + [(f"r{e}", e, e, "avif", 60) for e in (2048, 1024, 320)]

Output = tuple[str, str, int, int, bytes]


def naive(data: bytes, workload: str) -> list[Output]:
    """What most tutorials ship: full decode, LANCZOS from full size each time;
    encoded with the workload's own quality, as the others are."""
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    outputs = []
    for name, width, height, fmt, quality in WORKLOADS[workload]:
        scale = min(width / image.width, height / image.height, 1.0)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        resized = image.resize(size, Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        resized.save(buffer, fmt.upper(), quality=quality)
        outputs.append((name, fmt, *resized.size, buffer.getvalue()))
    return outputs


def imgpipe(data: bytes, workload: str) -> list[Output]:
    """chalicelib.imaging.process_image with the settings the handler passes."""
    from chalicelib.imaging import process_image
    from chalicelib.renditions import RenditionSpec

    specs = {}
    outputs = []
    for name, width, height, fmt, quality in WORKLOADS[workload]:
        spec = specs.setdefault(name, RenditionSpec(name, width, height))
        # W1 is the handler's default rendition, whose format is `source`.
        outputs.append((spec, "source" if workload == "W1" else fmt))
    result = process_image(data, outputs, 100_000_000)
    return [(r.name, r.format, r.width, r.height, r.data) for r in result.renditions]


def vips(data: bytes, workload: str) -> list[Output]:
    """libvips: thumbnail_buffer for the largest size, thumbnail_image cascaded
    from it for the smaller ones (the faster of the two ways in DESIGN.md).

    Equal work with imgpipe: only a photo that carries an ICC profile is
    converted to sRGB (an untagged one is sRGB already, and imgpipe leaves it
    alone); a picture is kept in memory only when it is used more than once
    (two formats, or the source of a smaller size), else it streams.
    """
    import pyvips

    sizes = WORKLOADS[workload]
    uses = {w: sum(1 for _, e, _, _, _ in sizes if e == w) for _, w, _, _, _ in sizes}
    smallest = min(uses)
    profile = {}
    if pyvips.Image.new_from_buffer(data, "").get_typeof("icc-profile-data"):
        profile = {"output_profile": "srgb"}
    made: dict[int, pyvips.Image] = {}
    outputs = []
    for name, width, height, fmt, quality in sizes:
        if width not in made:
            if made:
                base = made[min(made)]
                image = base.thumbnail_image(width, height=height, size="down")
            else:
                image = pyvips.Image.thumbnail_buffer(data, width, height=height, size="down", **profile)
            # Reused (a second format, or the cascade's source): render once.
            made[width] = image.copy_memory() if uses[width] > 1 or width != smallest else image
        image = made[width]
        if fmt == "jpeg":
            encoded = image.jpegsave_buffer(Q=quality, keep=0)
        elif fmt == "webp":
            encoded = image.webpsave_buffer(Q=quality, effort=4, keep=0)
        else:
            # effort 3 is aom speed 6, the speed Pillow's AVIF encoder uses by default.
            encoded = image.heifsave_buffer(Q=quality, compression="av1", effort=3, keep=0)
        outputs.append((name, fmt, image.width, image.height, encoded))
    return outputs


IMPLEMENTATIONS: dict[str, Callable[[bytes, str], list[Output]]] = {
    "naive": naive,
    "imgpipe": imgpipe,
    "vips": vips,
}


def configure(threads: int) -> None:
    """Call before the first import of pyvips/imaging: pins the process to
    `threads` CPUs and sets libvips' thread pool to match."""
    os.environ["VIPS_CONCURRENCY"] = str(threads)
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, set(cpus[:threads]))
