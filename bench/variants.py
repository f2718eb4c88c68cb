"""`python -m bench.variants [--photos DIR] [--rounds N] [--subset L]`: the first render of
an on-demand variant (640 px wide WebP q80), one core, side by side:

- imgpipe from the source (process_variant on the upload's bytes);
- imgpipe from the nearest stored rendition (what the /v/ route does: the smallest
  rendition of the default RENDITIONS at ≥ 2× the target, chosen by render.base_rendition);
- libvips `thumbnail` from the source, then webpsave Q80 effort 4 (libvips' default,
  as imgpipe's method 4): sRGB conversion only for a photo with an ICC profile, as imgpipe.

CPU is the process's (every thread), wall the caller's; the median of N rounds.
The renditions a photo already has are made once beforehand and are not timed.

Then (unless --no-stack) a repeated request through `make run`'s stack: one render, then
served from storage without rendering, counted, with its latency (bench/variantstack.py).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

from bench.common import PHOTO_SUFFIXES, ROOT
from bench.impls import configure

WIDTH, QUALITY = 640, 80


def _timed(work, rounds: int) -> tuple[float, float, object]:
    cpu, wall, result = [], [], None
    for _ in range(rounds):
        c, w = time.process_time(), time.perf_counter()
        result = work()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return statistics.median(cpu) * 1000, statistics.median(wall) * 1000, result


def _stored_renditions(data: bytes) -> tuple[dict, dict[str, bytes]]:
    """What the pipeline stored for `data` with the default settings: a record-like dict and the bytes by key."""
    from chalicelib.config import Settings
    from chalicelib.imaging import process_image, rendition_outputs

    settings = Settings("in", "out", "t")
    made = process_image(data, rendition_outputs(settings), settings.max_pixels)
    renditions, blobs = [], {}
    for r in made.renditions:
        key = f"{r.name}.{r.format}"
        renditions.append({"name": r.name, "format": r.format, "width": r.width, "height": r.height, "key": key})
        blobs[key] = r.data
    source = {"width": made.source.width, "height": made.source.height}
    fit_names = {s.name for s in settings.renditions if s.mode == "fit"} | {"default"}
    return {"source": source, "renditions": renditions, "fit_names": fit_names}, blobs


def bench_photo(path: Path, rounds: int) -> dict:
    import pyvips

    from chalicelib.imaging.variant import process_variant
    from chalicelib.render import base_rendition
    from chalicelib.variants import VariantOptions

    data = path.read_bytes()
    options = VariantOptions(width=WIDTH, format="webp", quality=QUALITY)
    record, blobs = _stored_renditions(data)
    base = base_rendition(record, record["fit_names"], options)
    rows = {}
    cpu, wall, made = _timed(lambda: process_variant(data, options, 10**9), rounds)
    rows["imgpipe, source"] = (cpu, wall, f"{made.width}×{made.height}", len(made.data))
    if base is not None:
        stored = blobs[base["key"]]
        cpu, wall, made = _timed(lambda: process_variant(stored, options, 10**9), rounds)
        label = f"imgpipe, {base['name']} {base['format']} {base['width']}×{base['height']}"
        rows[label] = (cpu, wall, f"{made.width}×{made.height}", len(made.data))
    profile = {"output_profile": "srgb"} if pyvips.Image.new_from_buffer(data, "").get_typeof(
        "icc-profile-data") else {}

    def vips() -> tuple[int, int, bytes]:
        image = pyvips.Image.thumbnail_buffer(data, WIDTH, height=100_000, size="down", **profile)
        return image.width, image.height, image.webpsave_buffer(Q=QUALITY, effort=4, keep=0)

    cpu, wall, (w, h, encoded) = _timed(vips, rounds)
    rows["libvips thumbnail, source"] = (cpu, wall, f"{w}×{h}", len(encoded))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "corpus" / "photos")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--subset", default="L", help="File-name prefix of the photos (L: the large ones).")
    parser.add_argument("--repeats", type=int, default=20,
                        help="Repeated requests of the stored variant through the local stack, each way.")
    parser.add_argument("--no-stack", action="store_true",
                        help="Skip the repeated request through a local stack (`make run`).")
    args = parser.parse_args(argv)
    if not args.photos.is_dir():
        print(f"bench.variants: {args.photos} is absent; point --photos at a folder of large camera JPEGs. "
              "Both parts (the first render, and the repeated request through a local stack) are skipped.")
        return 0
    photos = sorted(p for p in args.photos.iterdir()
                    if p.suffix.lower() in PHOTO_SUFFIXES and p.name.startswith(args.subset))
    if not photos:
        print(f"bench.variants: no photo named {args.subset}* in {args.photos}.")
        return 0
    configure(1)
    print(f"First render of a {WIDTH} px wide WebP q{QUALITY}, one core, median of {args.rounds} rounds")
    print(f"{'photo':<44} {'how':<38} {'CPU ms':>7} {'wall ms':>8} {'size':>9} {'bytes':>7}")
    totals: dict[str, list[float]] = {}
    for path in photos:
        for how, (cpu, wall, size, nbytes) in bench_photo(path, args.rounds).items():
            kind = how.split(",")[0] + (", rendition" if "source" not in how else ", source")
            totals.setdefault(kind, []).append(cpu)
            print(f"{path.name[:44]:<44} {how:<38} {cpu:7.1f} {wall:8.1f} {size:>9} {nbytes:7d}", flush=True)
    print()
    for kind, values in totals.items():
        print(f"mean CPU {kind:<28} {statistics.mean(values):7.1f} ms over {len(values)} photos")
    if args.no_stack:
        return 0
    from bench.variantstack import measure

    return measure(photos, args.repeats)


if __name__ == "__main__":
    sys.exit(main())
