"""`python -m bench.resample [--photos DIR] [--subset L] [--rounds N]`: the
resize step alone, on one CPU: Pillow's LANCZOS, chalicelib.resample.lanczos
(cykooz-resizer) and libvips' resize (lanczos3, VIPS_CONCURRENCY=1), each
from the same fully decoded photo to its 2048 px rendition.

Per photo: the median CPU ms of each over `--rounds`, the mean absolute
difference from Pillow's output in levels, and the SSIM of each against a
float reference (each band resized in mode F, as bench.quality does).
Pillow with reducing_gap=2 (what imaging.py passes today) is shown too.
"""

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ["VIPS_CONCURRENCY"] = "1"  # read when libvips starts: before pyvips is imported

import numpy as np
import pyvips
from PIL import Image

from chalicelib import resample

from bench import quality

ROOT = Path(__file__).resolve().parents[1]
EDGE = 2048


def target_size(image: Image.Image) -> tuple[int, int]:
    scale = min(EDGE / image.width, EDGE / image.height, 1.0)
    return max(1, round(image.width * scale)), max(1, round(image.height * scale))


def median_cpu_ms(run: Callable[[], object], rounds: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(rounds):
        cpu = time.process_time()
        result = run()
        times.append((time.process_time() - cpu) * 1000)
    return statistics.median(times), result


def libvips_resize(pixels: bytes, image: Image.Image, size: tuple[int, int]) -> Image.Image:
    source = pyvips.Image.new_from_memory(pixels, image.width, image.height, 3, "uchar")
    resized = source.resize(size[0] / image.width, vscale=size[1] / image.height, kernel="lanczos3")
    return Image.frombytes("RGB", (resized.width, resized.height), resized.write_to_memory())


def float_reference(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    bands = [np.asarray(band.convert("F").resize(size, Image.Resampling.LANCZOS)) for band in image.split()]
    return np.clip(np.stack(bands, axis=-1), 0, 255).astype(np.float64)


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    width, height = min(a.width, b.width), min(a.height, b.height)  # libvips may round a side differently
    a = np.asarray(a.crop((0, 0, width, height)), dtype=np.float64)
    b = np.asarray(b.crop((0, 0, width, height)), dtype=np.float64)
    return float(np.abs(a - b).mean())


def ssim(picture: Image.Image, reference: np.ndarray) -> float:
    if picture.size != reference.shape[1::-1]:
        return float("nan")
    return quality.ssim(np.asarray(picture, dtype=np.float64), reference)


def measure(photo: Path, rounds: int) -> dict:
    image = Image.open(photo).convert("RGB")
    image.load()
    size = target_size(image)
    pixels = image.tobytes()
    runs = {
        "pillow": lambda: image.resize(size, Image.Resampling.LANCZOS),
        "pillow_gap2": lambda: image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0),
        "resample": lambda: resample.lanczos(image, size),
        "libvips": lambda: libvips_resize(pixels, image, size),
    }
    row: dict = {"photo": photo.name, "source": image.size, "size": size}
    outputs = {}
    for name, run in runs.items():
        row[name], outputs[name] = median_cpu_ms(run, rounds)
    reference = float_reference(image, size)
    for name, picture in outputs.items():
        row[f"{name}_diff"] = mean_difference(picture, outputs["pillow"])
        row[f"{name}_ssim"] = ssim(picture, reference)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.resample", description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", default=str(ROOT.parent / "shared" / "corpus" / "photos"))
    parser.add_argument("--subset", default="L", help="file-name prefix of the photos to use")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    folder = Path(args.photos)
    if not folder.is_dir():
        print(f"Skipped: there is no photo folder at {folder}.", file=sys.stderr)
        return 0
    photos = sorted(p for p in folder.glob(f"{args.subset}*") if p.suffix.lower() in (".jpg", ".jpeg"))
    if not photos:
        print(f"Skipped: no JPEG photos starting with {args.subset!r} in {folder}.", file=sys.stderr)
        return 0
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one CPU, as libvips has
    if not resample.vectorised("RGB"):
        print("Note: cykooz-resizer is not installed here, so resample.lanczos is Pillow's.", file=sys.stderr)
    print(f"2048 px rendition, CPU ms (median of {args.rounds}), one CPU; "
          f"mean |difference| from Pillow in levels; SSIM against a float reference")
    header = ("photo", "source", "Pillow", "gap=2", "resample", "libvips",
              "diff gap=2", "diff resample", "diff libvips", "SSIM Pillow", "SSIM resample", "SSIM libvips")
    print(" | ".join(header))
    rows = []
    for photo in photos:
        row = measure(photo, args.rounds)
        rows.append(row)
        print(" | ".join([
            row["photo"][:28], "x".join(map(str, row["source"])),
            *(f"{row[k]:.1f}" for k in ("pillow", "pillow_gap2", "resample", "libvips")),
            *(f"{row[k + '_diff']:.3f}" for k in ("pillow_gap2", "resample", "libvips")),
            *(f"{row[k + '_ssim']:.4f}" for k in ("pillow", "resample", "libvips")),
        ]), flush=True)
    print("mean | | " + " | ".join(f"{statistics.mean(r[k] for r in rows):.1f}"
                                   for k in ("pillow", "pillow_gap2", "resample", "libvips")))
    print(f"load average while measuring: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
