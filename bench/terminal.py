"""The table `make bench` prints: at most 100 columns, with what its labels and
ratios mean, the workloads and each peer's configuration printed beside it.

Every ratio says which way it divides. `naive÷` is naive's wall time ÷ the
row's, the README's "N× faster than naive"; `÷vips1`, `÷vips2` and `÷own1`
are the row's wall time ÷ libvips' on 1 or 2 CPUs, ÷ its own on 1 CPU, the
README's "0.88× libvips' wall time" (below 1: the row is faster).
"""

PEERS = {
    "naive": "Pillow as most tutorials ship it: full decode, LANCZOS from full size for each size",
    "imgpipe": "chalicelib.imaging.process_image, with the settings the handler passes",
    "vips": "libvips (pyvips): thumbnail_buffer for the largest size, smaller ones cascaded from it",
}
WIDTH = 100


def _cell(value: float | None, width: int, fmt: str) -> str:
    """A number, or an en dash where there is nothing to show (never `nan`)."""
    return f"{'–' if value is None else format(value, fmt):>{width}}"


def _inverse(value: float | None) -> float | None:
    return 1 / value if value else None


def legend(workloads: dict[str, list], configs: dict[str, tuple[str, int]]) -> list[str]:
    lines = ["Workloads (per photo):"]
    for name, outputs in workloads.items():
        said = ", ".join(f"{o[0]} {o[1]}×{o[2]} {o[3]} q{o[4]}" for o in outputs)
        lines.extend(_wrapped(f"  {name}: {said}", "      "))
    lines.append("Peers (label = implementation-CPUs; pinned to that many CPUs, libvips' threads set to match):")
    for label, (impl, cpus) in configs.items():
        lines.extend(_wrapped(f"  {label}: {PEERS.get(impl, impl)}; {cpus} CPU{'s' if cpus > 1 else ''}", "      "))
    lines.extend([
        "Ratios of paired wall times (median over rounds):",
        "  naive÷  naive's time ÷ this row's: 3.00 = three times faster than naive",
        "  ÷vips1 ÷vips2 ÷own1  this row's time ÷ libvips' on 1 or 2 CPUs, ÷ its own on 1 CPU",
        "          (below 1: this row is faster); cpu÷v1: ÷vips1 in CPU time, which load skews least",
    ])
    return lines


def _wrapped(text: str, indent: str) -> list[str]:
    """`text` in lines of at most WIDTH, broken at spaces; its own leading spaces kept."""
    lead = text[: len(text) - len(text.lstrip(" "))]
    lines, line = [], lead
    for word in text.split():
        if line.strip() and len(line) + 1 + len(word) > WIDTH:
            lines.append(line)
            line = indent + word
        else:
            line = f"{line} {word}" if line.strip() else line + word
    return [*lines, line]


def table(summary: dict, quality: dict, rss: dict, rss_photo: str | None) -> list[str]:
    header = (f"{'wl':<3}{'impl':<10}{'wall ms [min–max]':>18}{'cpu ms':>7}{'naive÷':>7}{'÷vips1':>7}"
              f"{'÷vips2':>7}{'÷own1':>7}{'cpu÷v1':>7}{'KiB':>6}{'SSIM':>7}{'PSNR':>6}{'RSS':>5}")
    lines = [header, "-" * len(header)]
    for workload, per_config in summary.items():
        for name, e in per_config.items():
            qi = quality.get(workload, {}).get(name if name.endswith("-1") or name == "naive" else
                                               name.rsplit("-", 1)[0] + "-1", {})
            peak = rss.get(f"{rss_photo} {workload}", {}).get(name, {}).get("rss_peak_mib")
            lo, hi = e["wall_ms_range"]
            lines.append(
                f"{workload:<3}{name:<10}{e['wall_ms']:>6.0f} [{lo:>4.0f}–{hi:>4.0f}]{e['cpu_ms']:>7.0f}"
                f"{_cell(_inverse(e.get('x_naive_wall')), 7, '.2f')}{_cell(e.get('x_vips1_wall'), 7, '.2f')}"
                f"{_cell(e.get('x_vips2_wall'), 7, '.2f')}{_cell(e.get('x_own1_wall'), 7, '.2f')}"
                f"{_cell(e.get('x_vips1_cpu'), 7, '.2f')}{e['output_bytes_per_image'] / 1024:>6.0f}"
                f"{_cell(qi.get('min_ssim'), 7, '.4f')}{_cell(qi.get('mean_psnr'), 6, '.1f')}{_cell(peak, 5, '.0f')}")
    notes = ["KiB: output per image; SSIM: the lowest, PSNR: the mean, against float LANCZOS references"]
    if rss_photo:
        notes.append(f"RSS: peak MiB of a fresh process on {rss_photo}")
    return lines + notes


def render(summary: dict, quality: dict, rss: dict, rss_photo: str | None,
           workloads: dict[str, list], configs: dict[str, tuple[str, int]]) -> str:
    return "\n".join([*legend(workloads, configs), "", *table(summary, quality, rss, rss_photo)])
