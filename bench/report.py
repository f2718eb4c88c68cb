"""`python -m bench.report [latest.json]`: the results as Markdown tables, for
docs/PERFORMANCE.md and the README, including each target of issue 21."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _num(value, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def _rss_photo(r: dict) -> str:
    """The photo of the peak-RSS column: the first case measured ("NAME W1")."""
    return next(iter(r.get("peak_rss", {"-": 0}))).rsplit(" ", 1)[0]


def results_table(r: dict) -> str:
    rss_photo = _rss_photo(r)
    lines = [
        # naive ÷ impl: "N× faster than naive"; impl ÷ vips: "0.88× libvips' time" (bench/terminal.py).
        "| workload | impl | wall ms/img (min–max) | CPU ms/img | img/s | naive ÷ impl | impl ÷ vips-1 "
        "| impl ÷ vips-2 | impl ÷ own 1-CPU | KiB/img | SSIM min / mean | PSNR dB | peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for workload, per in r["summary"].items():
        for name, e in per.items():
            q = r.get("quality", {}).get(workload, {}).get(name.replace("-2", "-1"), {})
            rss = r.get("peak_rss", {}).get(f"{rss_photo} {workload}", {}).get(name, {})
            lo, hi = e["wall_ms_range"]
            lines.append(
                f"| {workload} | {name} | {e['wall_ms']:.0f} ({lo:.0f}–{hi:.0f}) | {e['cpu_ms']:.0f} "
                f"| {e['images_per_s']:.1f} | {_num(1 / e['x_naive_wall'] if e.get('x_naive_wall') else None, '.2f')} "
                f"| {_num(e.get('x_vips1_wall'), '.2f')} | {_num(e.get('x_vips2_wall'), '.2f')} "
                f"| {_num(e.get('x_own1_wall'), '.2f')} | {e['output_bytes_per_image'] / 1024:.0f} "
                f"| {_num(q.get('min_ssim'), '.4f')} / {_num(q.get('mean_ssim'), '.4f')} "
                f"| {_num(q.get('mean_psnr'), '.2f')} | {_num(rss.get('rss_peak_mib'), '.0f')} |"
            )
    extra = []
    for key, per in r.get("peak_rss", {}).items():
        if not key.startswith(rss_photo):
            extra.append(f"Peak RSS, {key}: " + ", ".join(
                f"{n} {_num(v.get('rss_peak_mib'), '.0f')} MiB" for n, v in per.items()) + ".")
    if "cold_start" in r:
        c, p = r["cold_start"], r["package"]
        extra.append(f"Cold start: `import app` {c['import_app_ms']:.0f} ms "
                     f"(`chalicelib.imaging` alone {c['import_chalicelib.imaging_ms']:.0f} ms).")
        if "unzipped_mib" in p:
            extra.append(f"Deployment package, measured as {p['method']}: {p['unzipped_mib']} MiB unzipped "
                         f"({p['unzipped_without_boto3_mib']} MiB without boto3 and its dependencies, "
                         f"which the Lambda runtime has), {p['zipped_mib']} MiB zipped; "
                         f"pillow-heif import check: `{p['heif_import_check']}`.")
    if "avif" in r:
        w2 = r["summary"].get("W2", {})
        for name, e in r["avif"].items():
            base = w2.get(name, {}).get("cpu_ms")
            extra.append(f"AVIF (W3 = W2 + AVIF q60 of each size, 1 round), {name}: {e['cpu_ms']:.0f} ms CPU "
                         f"per image" + (f", {e['cpu_ms'] - base:+.0f} ms over W2" if base else "") + ".")
    note = f"\n\nPeak RSS column: a fresh process on {rss_photo}.\n\n"
    return "\n".join(lines) + note + "\n".join(f"- {x}" for x in extra)


def targets_table(r: dict) -> str:
    """Issue 21's targets (bench/targets.py), with each peer's configuration."""
    from bench.targets import markdown

    return markdown(r)


def levers_tables(levers: dict) -> tuple[str, str]:
    lines = ["| lever switched off | metric | shipped | without it | ratio | bytes "
             "| SSIM shipped → without |", "|---|---|---|---|---|---|---|"]
    for key, row in levers["levers"].items():
        ratio = row["variant_ms"] / row["shipped_ms"]
        lines.append(f"| {key} | {row['metric']} | {row['shipped_ms']:.0f} | {row['variant_ms']:.0f} "
                     f"| {ratio:.2f} | ×{row['bytes_vs_shipped']:.3f} "
                     f"| {row['ssim_shipped']:.4f} → {row['ssim_variant']:.4f} |")
    enc = ["| encoder setting | CPU ms | bytes vs shipped |", "|---|---|---|"]
    for name, row in levers["encoders"].items():
        enc.append(f"| {name} | {row['cpu_ms_per_2048']:.1f} | ×{row['bytes_vs_shipped']:.3f} |")
    return "\n".join(lines), "\n".join(enc)


def main() -> None:
    # The last local run if there is one, else the committed baseline.
    local, baseline = ROOT / "bench" / "out" / "latest.json", ROOT / "bench" / "results" / "latest.json"
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else (local if local.exists() else baseline)
    results = json.loads(path.read_text())
    print(results_table(results), "\n")
    print(targets_table(results), "\n")
    levers = ROOT / "bench" / "out" / "levers.json"
    levers = levers if levers.exists() else ROOT / "bench" / "results" / "levers.json"
    if levers.exists():
        for table in levers_tables(json.loads(levers.read_text())):
            print(table, "\n")


if __name__ == "__main__":
    main()
