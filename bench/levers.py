"""`python -m bench.levers`: each optimisation in chalicelib/imaging switched off
in turn, paired against the shipped code on the same photo in the same process.

Variants patch the stage functions process_image calls (names in
chalicelib.imaging.plan, and the pool) for the duration of one call, so they
measure exactly one lever. Pinned to one CPU except `no_pool`, which
compares wall time on two. Output: mean over photos of the median CPU/wall
ms per image of each variant, the ratio of its total to `shipped`'s, output
bytes and the mean SSIM of its outputs against the float reference.
"""

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

from PIL import Image, ImageOps

from chalicelib.imaging import decode, encode, geometry, plan, pool
from chalicelib.renditions import RenditionSpec

from bench import quality
from bench.impls import imgpipe

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def patched(name: str, value):
    """`name` in plan.py (what process_image calls), or the pool's `_POOL`."""
    module = pool if name == "_POOL" else plan
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, saved)


def _draft_twice(image, display_size, specs):
    """The rule before: always keep 2× the largest output (libvips' rule), so a
    source under 4× the output is decoded at full size."""
    if image.format in ("JPEG", "MPO") and specs:
        scale = max(min(geometry.spec_scale(s, *display_size), 1.0) for s in specs)
        wanted = (int(display_size[0] * scale * 2), int(display_size[1] * scale * 2))
        if wanted[0] < display_size[0] and wanted[1] < display_size[1]:
            image.draft(image.mode, wanted if display_size == image.size else wanted[::-1])


def _no_cascade(image, spec, made, extent=None, framing=None, orientation=1):
    return _RESIZE(image, spec, {}, extent, framing, orientation)


def _resize_upright(image, spec, made, extent=None, framing=None, orientation=1):
    """With _load_upright: the picture was turned before resizing."""
    return _RESIZE(image, spec, made, extent, framing, 1)


def _load_upright(image):
    """Before: the whole decoded picture turned upright, then resized."""
    return decode.decode_frame(image, decode.orientation_of(image))


def _icc_before_resize(image):
    picture, transform = _NORMALISE(image)
    return encode.to_srgb(picture, transform), None


def _exif_transpose_decode(image):
    image.load()
    return ImageOps.exif_transpose(image)  # parses EXIF again; copies when upright


def _placeholder_full_icc(picture, to_srgb):
    """Before: the whole smallest rendition converted to sRGB for the placeholder."""
    return _MAKE_PLACEHOLDER(encode.to_srgb(picture, to_srgb))


def _draft_with(eighths):
    """decode.draft with other (eighths, headroom) rules: with resampling cheap,
    a smaller DCT scale where it covers the output, or a larger one for quality."""
    def variant(image, display_size, specs):
        saved, decode._EIGHTHS = decode._EIGHTHS, eighths
        try:
            return _DRAFT(image, display_size, specs)
        finally:
            decode._EIGHTHS = saved
    return variant


_RESIZE, _NORMALISE, _MAKE_PLACEHOLDER, _DRAFT = plan.fit, plan.normalise, plan.make_placeholder, plan.draft
VARIANTS = {
    "shipped": {},
    "draft_2x_always": {"draft": _draft_twice},
    "no_draft": {"draft": lambda *args: None},
    "no_cascade": {"fit": _no_cascade},
    "icc_before_resize": {"normalise": _icc_before_resize},
    "exif_transpose": {"load_frame": _exif_transpose_decode, "fit": _resize_upright},
    "transpose_before_resize": {"load_frame": _load_upright, "fit": _resize_upright},
    "no_pool": {"_POOL": None},
    "placeholder_full_icc": {"make_placeholder": _placeholder_full_icc},
    # Alternatives rather than levers switched off (docs/PERFORMANCE.md, SIMD resampler):
    "draft_quarter_at_1x": {"draft": _draft_with(((1, 2.0), (2, 1.0), (3, 1.0), (4, 1.0)))},
    "draft_larger_1_5x": {"draft": _draft_with(((1, 2.0), (2, 2.0), (3, 1.5), (4, 1.5)))},
}


def run_variant(variant: str, data: bytes, workload: str):
    with ExitStack() as stack:
        for name, value in VARIANTS[variant].items():
            stack.enter_context(patched(name, value))
        cpu, wall = time.process_time(), time.perf_counter()
        outputs = imgpipe(data, workload)
        return (time.process_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000, outputs


def encoder_levers(photos: list[Path], rounds: int) -> dict:
    """WebP method and progressive JPEG on each photo's 2048 px rendition."""
    settings = {
        "webp m4 (shipped)": ("WEBP", {"quality": 80, "method": 4}),
        "webp m3": ("WEBP", {"quality": 80, "method": 3}),
        "webp m2": ("WEBP", {"quality": 80, "method": 2}),
        "jpeg baseline (shipped)": ("JPEG", {"quality": 82}),
        "jpeg progressive": ("JPEG", {"quality": 82, "progressive": True}),
        "jpeg optimize": ("JPEG", {"quality": 82, "optimize": True}),
    }
    times: dict = {k: [] for k in settings}
    sizes: dict = {k: 0 for k in settings}
    for photo in photos:
        result = plan.process_image(photo.read_bytes(), [(RenditionSpec("r", 2048, 2048), "png")], 10**8)
        picture = Image.open(io.BytesIO(result.renditions[0].data)).convert("RGB")
        for name, (fmt, params) in settings.items():
            best = []
            for _ in range(rounds):
                buffer = io.BytesIO()
                cpu = time.process_time()
                picture.save(buffer, fmt, **params)
                best.append((time.process_time() - cpu) * 1000)
            times[name].append(statistics.median(best))
            sizes[name] += buffer.tell()
    shipped = {"WEBP": sizes["webp m4 (shipped)"], "JPEG": sizes["jpeg baseline (shipped)"]}
    return {name: {"cpu_ms_per_2048": round(statistics.fmean(times[name]), 1),
                   "bytes_vs_shipped": round(sizes[name] / shipped[fmt], 3)}
            for name, (fmt, _) in settings.items()}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.levers")
    parser.add_argument("--photos", default=str(ROOT.parent / "shared" / "corpus" / "photos"))
    parser.add_argument("--subset", default="L")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", nargs="*", default=[v for v in VARIANTS if v != "shipped"],
                        choices=[v for v in VARIANTS if v != "shipped"])
    parser.add_argument("--workloads", nargs="*", default=["W1", "W2"], choices=["W1", "W2"])
    parser.add_argument("--no-encoders", action="store_true", help="skip the encoder settings table")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "levers.json"),
                        help="git-ignored; copy to bench/results/levers.json to update the baseline")
    args = parser.parse_args()
    photos = sorted(Path(args.photos).glob(f"{args.subset}*.jp*g"))
    if not photos:
        print(f"no photos matching {args.subset}* in {args.photos}", file=sys.stderr)
        return 2
    cpus = sorted(os.sched_getaffinity(0))
    results: dict = {"photos": [p.name for p in photos], "rounds": args.rounds, "levers": {}}
    for workload in args.workloads:
        for variant in args.variants:
            two_cpus = variant == "no_pool"
            os.sched_setaffinity(0, set(cpus[:2] if two_cpus else cpus[:1]))
            pool._POOL = ThreadPoolExecutor(2) if two_cpus else None
            metric = 1 if two_cpus else 0  # wall on 2 CPUs, CPU time on 1
            per_photo: dict = {"shipped": [], variant: []}
            ssims: dict = {"shipped": [], variant: []}
            sizes: dict = {"shipped": 0, variant: 0}
            for photo in photos:
                data = photo.read_bytes()
                samples: dict = {"shipped": [], variant: []}
                for rnd in range(args.rounds):
                    for name in (("shipped", variant) if rnd % 2 == 0 else (variant, "shipped")):
                        cpu_ms, wall_ms, outputs = run_variant(name, data, workload)
                        samples[name].append((cpu_ms, wall_ms)[metric])
                for name in samples:
                    per_photo[name].append(statistics.median(samples[name]))
                    _, _, outputs = run_variant(name, data, workload)
                    sizes[name] += sum(len(o[4]) for o in outputs)
                    with tempfile.TemporaryDirectory() as tmp:
                        for out_name, fmt, _, _, encoded in outputs:
                            path = Path(tmp, f"{out_name}.{fmt}")
                            path.write_bytes(encoded)
                            ssims[name].append(quality.measure(photo, path)["ssim"])
            row = {
                "metric": "wall ms, 2 CPUs" if two_cpus else "CPU ms, 1 CPU",
                "shipped_ms": round(statistics.fmean(per_photo["shipped"]), 1),
                "variant_ms": round(statistics.fmean(per_photo[variant]), 1),
                # Ratio of totals: most levers touch only some photos (ICC, size).
                "variant_vs_shipped": round(sum(per_photo[variant]) / sum(per_photo["shipped"]), 3),
                "bytes_vs_shipped": round(sizes[variant] / sizes["shipped"], 3),
                "ssim_shipped": round(statistics.fmean(ssims["shipped"]), 4),
                "ssim_variant": round(statistics.fmean(ssims[variant]), 4),
                # Outputs in the same order for both: the worst per-output change.
                "worst_ssim_change": round(min(v - s for v, s in zip(ssims[variant], ssims["shipped"])), 4),
            }
            results["levers"][f"{workload} {variant}"] = row
            print(f"{workload} {variant:<15} {row['metric']:<16} shipped {row['shipped_ms']:>7.1f}  "
                  f"variant {row['variant_ms']:>7.1f}  ×{row['variant_vs_shipped']:.2f}  "
                  f"bytes ×{row['bytes_vs_shipped']:.3f}  SSIM {row['ssim_shipped']:.4f} → "
                  f"{row['ssim_variant']:.4f} (worst output {row['worst_ssim_change']:+.4f})", flush=True)
    os.sched_setaffinity(0, set(cpus[:1]))
    results["encoders"] = {} if args.no_encoders else encoder_levers(photos, args.rounds)
    for name, row in results["encoders"].items():
        print(f"encoder {name:<24} {row['cpu_ms_per_2048']:>6.1f} ms per 2048 px rendition, "
              f"bytes ×{row['bytes_vs_shipped']:.3f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
