"""`python -m bench [--photos DIR] [--rounds N] [--subset PREFIX]`: the comparison table.

Each implementation runs in its own worker process (pinned to 1 or 2 CPUs);
rounds are interleaved: for every photo, every worker in turn, the order
rotating each round, so machine noise lands on all of them alike. Per-round
figures are means over the headline set (L* photos); the table shows the
median over rounds and its min–max. Ratios are paired: the median of
per-round ratios. Quality, peak RSS, cold start and package size are measured
after the timed rounds, never during them.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import quality, targets
from bench.common import CACHE, PHOTO_SUFFIXES, ROOT, cold_start, package_size
from bench.impls import WORKLOADS

# Every run writes here (git-ignored); --baseline also updates the committed one.
LOCAL_OUT = ROOT / "bench" / "out" / "latest.json"
BASELINE = ROOT / "bench" / "results" / "latest.json"
# name: (implementation, CPUs/threads)
CONFIGS = {
    "naive": ("naive", 1),
    "imgpipe-1": ("imgpipe", 1),
    "imgpipe-2": ("imgpipe", 2),
    "vips-1": ("vips", 1),
    "vips-2": ("vips", 2),
}
# As every deployed function has it (.chalice/config.json): glibc read it at start-up.
WORKER_ENV = {**os.environ, "MALLOC_ARENA_MAX": "2"}


class Worker:
    def __init__(self, impl: str, threads: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.worker", impl, str(threads)],
            cwd=ROOT, env=WORKER_ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )

    def run(self, **request) -> dict:
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", default=str(ROOT.parent / "shared" / "corpus" / "photos"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--subset", default="", help="only photos whose name starts with this, e.g. L")
    parser.add_argument("--workloads", default="W1,W2")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--avif", action=argparse.BooleanOptionalAction, default=True,
                        help="one round of W2+AVIF (W3) for imgpipe, to report AVIF's cost")
    parser.add_argument("--extras", action=argparse.BooleanOptionalAction, default=True,
                        help="quality, peak RSS, cold start and package size")
    parser.add_argument("--out", default=str(LOCAL_OUT), help="results JSON (default: git-ignored)")
    parser.add_argument("--baseline", action="store_true",
                        help=f"also write the committed baseline {BASELINE.relative_to(ROOT)}")
    return parser.parse_args()


def timed_rounds(photos: list[Path], configs: list[str], workloads: list[str], rounds: int,
                 save_dir: Path) -> dict:
    """timings[workload][config][photo] = list of {wall_ms, cpu_ms, outputs} per round."""
    workers = {name: Worker(*CONFIGS[name]) for name in configs}
    timings: dict = {w: {c: {p.name: [] for p in photos} for c in configs} for w in workloads}
    try:
        for workload in workloads:  # warm-up: imports, plugin registration, first-call costs
            for worker in workers.values():
                worker.run(path=str(photos[0]), workload=workload)
        for rnd in range(rounds):
            started = time.perf_counter()
            for workload in workloads:
                for i, photo in enumerate(photos):
                    order = configs[(rnd + i) % len(configs):] + configs[:(rnd + i) % len(configs)]
                    for name in order:
                        save = None
                        if rnd == rounds - 1 and CONFIGS[name][1] == 1:
                            save = save_dir / workload / name / photo.name
                            save.mkdir(parents=True, exist_ok=True)
                        result = workers[name].run(path=str(photo), workload=workload,
                                                   save=str(save) if save else None)
                        timings[workload][name][photo.name].append(result)
            print(f"  round {rnd + 1}/{rounds}: {time.perf_counter() - started:.0f} s", flush=True)
    finally:
        for worker in workers.values():
            worker.close()
    return timings


def summarise(timings: dict, headline: list[str], configs: list[str]) -> dict:
    """Per workload and config: per-round means over the headline photos, then medians."""
    summary: dict = {}
    for workload, per_config in timings.items():
        rounds: dict[str, dict[str, list[float]]] = {}
        for name in configs:
            runs = [per_config[name][p] for p in headline]
            if any("error" in r for rs in runs for r in rs):
                continue
            count = len(runs[0])
            rounds[name] = {
                key: [statistics.fmean(rs[i][key] for rs in runs) for i in range(count)]
                for key in ("wall_ms", "cpu_ms")
            }
            rounds[name]["bytes"] = statistics.fmean(
                sum(o[4] for o in rs[-1]["outputs"]) for rs in runs)
        summary[workload] = {}
        for name, series in rounds.items():
            wall = statistics.median(series["wall_ms"])
            entry = {
                "wall_ms": round(wall, 1),
                "wall_ms_range": [round(min(series["wall_ms"]), 1), round(max(series["wall_ms"]), 1)],
                "cpu_ms": round(statistics.median(series["cpu_ms"]), 1),
                "cpu_ms_range": [round(min(series["cpu_ms"]), 1), round(max(series["cpu_ms"]), 1)],
                "images_per_s": round(1000 / wall, 2),
                "output_bytes_per_image": round(series["bytes"]),
            }
            own_one_cpu = name[:-2] + "-1" if name.endswith("-2") else None
            entry["rounds_wall_ms"] = [round(v, 1) for v in series["wall_ms"]]
            for other, key in (("naive", "x_naive"), ("vips-1", "x_vips1"), ("vips-2", "x_vips2"),
                               (own_one_cpu, "x_own1")):
                if other in rounds:
                    for metric in ("wall_ms", "cpu_ms"):
                        ratios = [a / b for a, b in zip(series[metric], rounds[other][metric])]
                        entry[f"{key}_{metric.split('_')[0]}"] = round(statistics.median(ratios), 3)
            summary[workload][name] = entry
    return summary


def measure_quality(save_dir: Path, photos: dict[str, Path], headline: list[str]) -> dict:
    """quality[workload][impl] = {min_ssim, mean_ssim, mean_psnr, per_output: [...]}, headline set."""
    rows: dict[tuple[str, str], list[dict]] = {}
    # Photo-major, so each float reference is computed once and shared by all.
    for name in headline:
        for output in sorted(save_dir.glob(f"*/*/{name}/*")):
            workload, impl = output.parts[-4], output.parts[-3]
            rows.setdefault((workload, impl), []).append(
                {"photo": name, "output": output.name, "bytes": output.stat().st_size,
                 **quality.measure(photos[name], output)})
    result: dict = {}
    for (workload, impl), found in sorted(rows.items()):
        result.setdefault(workload, {})[impl] = {
            "min_ssim": min(r["ssim"] for r in found),
            "mean_ssim": round(statistics.fmean(r["ssim"] for r in found), 5),
            "mean_psnr": round(statistics.fmean(r["psnr"] for r in found), 2),
            "outputs": found,
        }
    return result


def compare_to_vips(q: dict) -> dict:
    """Per output (photo, rendition, format): imgpipe's SSIM minus libvips's, and bytes ratios."""
    out: dict = {}
    for workload, per_impl in q.items():
        if "imgpipe-1" not in per_impl or "vips-1" not in per_impl:
            continue
        vips = {(r["photo"], r["output"]): r for r in per_impl["vips-1"]["outputs"]}
        pairs = [(row, vips[(row["photo"], row["output"])]) for row in per_impl["imgpipe-1"]["outputs"]
                 if (row["photo"], row["output"]) in vips]
        if not pairs:
            continue
        by_format: dict[str, list[int]] = {}
        for ours, theirs in pairs:
            totals = by_format.setdefault(ours["output"].rsplit(".", 1)[1], [0, 0])
            totals[0] += ours["bytes"]
            totals[1] += theirs["bytes"]
        ratios = [ours["bytes"] / theirs["bytes"] for ours, theirs in pairs]
        out[workload] = {
            "worst_ssim_delta": round(min(ours["ssim"] - theirs["ssim"] for ours, theirs in pairs), 5),
            "bytes_ratio": {fmt: round(a / b, 3) for fmt, (a, b) in by_format.items()},
            "bytes_ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
        }
    return out


def big_png() -> Path:
    """A 10000x10000 RGB PNG (MAX_PIXELS) of smooth gradients: small file, 300 MB of pixels."""
    from PIL import Image

    path = CACHE / "png_100mp.png"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        ramp = Image.linear_gradient("L").resize((10000, 10000), Image.Resampling.BILINEAR)
        Image.merge("RGB", (ramp, ramp.transpose(Image.Transpose.ROTATE_90),
                            ramp.transpose(Image.Transpose.ROTATE_180))).save(path, compress_level=1)
    return path


def _pixels(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as image:
        return image.width * image.height


def peak_rss(configs: list[str], cases: list[tuple[Path, str]]) -> dict:
    """Peak RSS of one fresh process per (config, photo, workload)."""
    result: dict = {}
    for path, workload in cases:
        for name in configs:
            impl, threads = CONFIGS[name]
            got = subprocess.run([sys.executable, "-m", "bench.worker", impl, str(threads), "--once",
                                  str(path), workload], cwd=ROOT, env=WORKER_ENV, capture_output=True,
                                 text=True)
            try:
                row = json.loads(got.stdout)
            except json.JSONDecodeError:
                row = {"error": got.stderr[-300:]}
            row.pop("outputs", None)
            result.setdefault(f"{path.name} {workload}", {})[name] = row
    return result


def print_table(summary: dict, q: dict, rss: dict, rss_photo: str | None, workloads: list[str],
                configs: list[str]) -> None:
    from bench.terminal import render
    print(render(summary, q, rss, rss_photo, {w: WORKLOADS[w] for w in workloads},
                 {c: CONFIGS[c] for c in configs}))


def main() -> int:
    args = parse_args()
    folder = Path(args.photos)
    if not folder.is_dir():
        print(f"make bench: the photo folder {folder} does not exist (a development checkout\n"
              "has it in ../shared). Point PHOTOS at a folder of large JPEGs; files named L*\n"
              "are the headline set, or all of them if none is. E.g.\n"
              "  make bench PHOTOS=~/Pictures/sample", file=sys.stderr)
        return 2
    photos = sorted(p for p in folder.iterdir()
                    if p.suffix.lower() in PHOTO_SUFFIXES and p.name.startswith(args.subset))
    if not photos:
        print(f"make bench: no photos in {folder} matching {args.subset!r}", file=sys.stderr)
        return 2
    headline = [p.name for p in photos if p.name.startswith("L")] or [p.name for p in photos]
    configs = [c for c in CONFIGS if c in args.configs.split(",")]
    workloads = [w for w in args.workloads.split(",") if w in WORKLOADS]
    print(f"{len(photos)} photos ({len(headline)} headline), {args.rounds} rounds, "
          f"{', '.join(workloads)} × {', '.join(configs)}; {os.cpu_count()} CPUs", flush=True)

    results: dict = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "rounds": args.rounds, "photos": [p.name for p in photos], "headline": headline,
        "workloads": {w: WORKLOADS[w] for w in workloads},
    }
    with tempfile.TemporaryDirectory() as tmp:
        timings = timed_rounds(photos, configs, workloads, args.rounds, Path(tmp))
        results["summary"] = summarise(timings, headline, configs)
        results["per_photo"] = {
            w: {c: {p: {"wall_ms": statistics.median(r["wall_ms"] for r in runs),
                        "cpu_ms": statistics.median(r["cpu_ms"] for r in runs)}
                    if all("error" not in r for r in runs) else {"error": runs[0].get("error")}
                    for p, runs in per_photo.items()}
                for c, per_photo in per_config.items()}
            for w, per_config in timings.items()}
        if args.avif and "imgpipe-1" in configs:
            print("  AVIF cost: one round of W3 (W2 + AVIF) for imgpipe-1 and vips-1", flush=True)
            avif_configs = [c for c in ("imgpipe-1", "vips-1") if c in configs]
            avif = timed_rounds([p for p in photos if p.name in headline], avif_configs, ["W3"], 1,
                                Path(tmp) / "avif")
            results["avif"] = summarise(avif, headline, avif_configs)["W3"]
        q: dict = {}
        if args.extras:
            print("  quality against float LANCZOS references...", flush=True)
            q = measure_quality(Path(tmp), {p.name: p for p in photos}, headline)
    results["quality"] = {w: {i: {k: v for k, v in e.items() if k != "outputs"} for i, e in per.items()}
                          for w, per in q.items()}
    results["quality_outputs"] = q
    results["vs_vips"] = compare_to_vips(q)
    rss, rss_photo = {}, None
    if args.extras:
        print("  peak RSS, cold start, package size...", flush=True)
        largest = max((p for p in photos if p.name in headline), key=_pixels)
        rss_photo = largest.name
        rss = peak_rss(configs, [(largest, "W1"), (largest, "W2"), (big_png(), "W2")])
        results["peak_rss"] = rss
        results["cold_start"] = cold_start()
        results["package"] = package_size()
    results["load"] = os.getloadavg()
    results["versions"] = targets.versions()
    text = json.dumps(results, indent=1) + "\n"
    for out in [Path(args.out)] + ([BASELINE] if args.baseline else []):
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)

    print()
    print_table(results["summary"], q, rss, rss_photo, workloads, configs)
    for workload, cmp in results["vs_vips"].items():
        print(f"{workload} imgpipe vs libvips: worst SSIM delta {cmp['worst_ssim_delta']}, "
              f"bytes ratio {cmp['bytes_ratio']} (per output {cmp['bytes_ratio_range']})")
    if "avif" in results:
        for name, e in results["avif"].items():
            print(f"W3 (W2 + AVIF) {name}: {e['wall_ms']:.0f} ms/img wall, {e['cpu_ms']:.0f} ms CPU")
    for key, per in rss.items():
        print(f"peak RSS {key}: " + ", ".join(
            f"{n} {'–' if r.get('rss_peak_mib') is None else format(r['rss_peak_mib'], '.0f')} MiB"
            for n, r in per.items()))
    if "cold_start" in results:
        print(f"cold start: {results['cold_start']}")
        print(f"package: {results['package']}")
    print()
    print(targets.render(results))
    wrote = f"{args.out} and {BASELINE}" if args.baseline else args.out
    print(f"\nload average {os.getloadavg()[0]:.2f}; wrote {wrote}; "
          "`python -m bench.report` prints it as Markdown")
    return 0


if __name__ == "__main__":
    sys.exit(main())
