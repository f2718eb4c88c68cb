"""`python -m bench.smartcrop [--photos DIR]`: imgpipe's saliency crop beside libvips'.

Both get the same pixels: each photo decoded and oriented by imgpipe, reduced
to fit 1024×1024 (the picture the `medium` rendition is, and the one a cover
crop is cut from). For each crop shape, the table gives the overlap (IoU) of
the two crop windows and each one's CPU time to decide it. libvips runs
`smartcrop(interesting="attention")`, its default for `thumbnail(crop=...)`.
The centre crop's IoU with libvips is shown too, as the baseline a smart crop
has to beat.
"""

import argparse
import io
import statistics
import time
from pathlib import Path

import pyvips
from PIL import Image

from bench.common import PHOTO_SUFFIXES, ROOT
from chalicelib.crop import CENTRE, measure_interest, place_crop
from chalicelib.imaging.decode import decode_frame, open_image, orientation_of

SHAPES = {"square 1:1": (1, 1), "landscape 16:9": (16, 9), "portrait 4:5": (4, 5)}
REPEATS = 5


def reduced(path: Path) -> Image.Image:
    image, _ = open_image(path.read_bytes(), 10**9)
    image.draft("RGB", (2048, 2048))
    picture = decode_frame(image, orientation_of(image)).convert("RGB")
    picture.thumbnail((1024, 1024), Image.Resampling.LANCZOS)
    return picture


def crop_size(size: tuple[int, int], shape: tuple[int, int]) -> tuple[int, int]:
    """The largest window of `shape`'s aspect ratio inside `size` (what a cover crop keeps)."""
    width, height = size
    scale = min(width / shape[0], height / shape[1])
    return round(shape[0] * scale), round(shape[1] * scale)


def iou(a, b) -> float:
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    area = lambda box: (box[2] - box[0]) * (box[3] - box[1])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def cpu_ms(fn) -> tuple[float, object]:
    times, result = [], None
    for _ in range(REPEATS):
        start = time.process_time()
        result = fn()
        times.append((time.process_time() - start) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.smartcrop", description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", default=str(ROOT.parent / "shared" / "corpus" / "photos"))
    parser.add_argument("--example", type=Path, help="only write the README's before/after picture here")
    args = parser.parse_args()
    if args.example:
        return example(args.example)
    photos = sorted(p for p in Path(args.photos).glob("*") if p.suffix.lower() in PHOTO_SUFFIXES)
    if not photos:
        raise SystemExit(f"No photos in {args.photos}: pass --photos DIR.")
    pyvips.cache_set_max(0)  # no cached results between repeats
    rows = {shape: {"ours": [], "centre": [], "t_ours": [], "t_vips": []} for shape in SHAPES}
    for path in photos:
        picture = reduced(path)
        buffer = io.BytesIO()
        picture.save(buffer, "PNG", compress_level=1)
        vips_image = pyvips.Image.new_from_buffer(buffer.getvalue(), "").copy_memory()
        t_interest, interest = cpu_ms(lambda: measure_interest(picture))
        for name, shape in SHAPES.items():
            crop = crop_size(picture.size, shape)
            t_focus, focus = cpu_ms(lambda: interest.focus(picture.size, crop))
            ours = place_crop(picture.size, crop, focus)
            t_vips, out = cpu_ms(lambda: vips_image.smartcrop(*crop, interesting="attention").copy_memory())
            left, top = -out.get("xoffset"), -out.get("yoffset")
            theirs = (left, top, left + crop[0], top + crop[1])
            row = rows[name]
            row["ours"].append(iou(ours, theirs))
            row["centre"].append(iou(place_crop(picture.size, crop, CENTRE), theirs))
            row["t_ours"].append(t_interest + t_focus)
            row["t_vips"].append(t_vips)
    print(f"{len(photos)} photos from {args.photos}, each reduced to fit 1024×1024; "
          f"CPU ms are medians of {REPEATS} runs, one core.\n")
    print("| crop | IoU with libvips, median (min) | centre crop's IoU, median | "
          "imgpipe ms, median (max) | libvips ms, median |")
    print("|---|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {statistics.median(row['ours']):.2f} ({min(row['ours']):.2f}) | "
              f"{statistics.median(row['centre']):.2f} | {statistics.median(row['t_ours']):.1f} "
              f"({max(row['t_ours']):.1f}) | {statistics.median(row['t_vips']):.1f} |")


def example(path: Path) -> None:
    """The README's before/after: a wide scene with its subject off-centre,
    cropped to the default `thumb` (320×320 cover) centred and then smart."""
    from PIL import ImageDraw

    from chalicelib.imaging import process_image
    from chalicelib.renditions import COVER, RenditionSpec

    scene = Image.new("RGB", (1200, 600), (150, 185, 215))
    draw = ImageDraw.Draw(scene)
    draw.rectangle((0, 420, 1200, 600), fill=(96, 128, 72))          # grass
    draw.ellipse((880, 120, 1000, 250), fill=(224, 172, 140))         # a face
    draw.rectangle((870, 250, 1010, 470), fill=(200, 40, 50))         # a red coat
    buffer = io.BytesIO()
    scene.save(buffer, "PNG")
    specs = [(RenditionSpec("thumb", 320, 320, COVER, centred=True), "png"),
             (RenditionSpec("thumb", 320, 320, COVER), "png")]
    centred, smart = (Image.open(io.BytesIO(r.data)) for r in process_image(buffer.getvalue(), specs, 10**8).renditions)
    sheet = Image.new("RGB", (600 + 16 + 320 * 2 + 16, 340), (255, 255, 255))
    sheet.paste(scene.resize((600, 300)), (0, 20))
    sheet.paste(centred, (616, 10))
    sheet.paste(smart, (616 + 336, 10))
    labels = ImageDraw.Draw(sheet)
    labels.text((4, 2), "source 1200x600", fill=(0, 0, 0))
    labels.text((620, 324), "cover:center", fill=(0, 0, 0))
    labels.text((956, 324), "cover (smart crop)", fill=(0, 0, 0))
    sheet.save(path, optimize=True)


if __name__ == "__main__":
    main()
