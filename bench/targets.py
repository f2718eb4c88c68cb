"""Issue 21's targets, checked against one bench run: each line says what was
measured, the target and whether it is met, with each peer's exact
configuration (versions included) beside the numbers. `make bench` prints
them; `python -m bench.report` prints them as Markdown.

CPU ratios on one pinned core: load skews them least, and CPU time is what
Lambda bills. "Fair" libvips is vips-1: it converts to sRGB only the photos
that carry an ICC profile, as imgpipe does (bench/impls.py).
"""

import textwrap
from importlib import metadata
from typing import NamedTuple

W1_VS_VIPS = 0.80  # imgpipe's CPU ÷ fair libvips', at most
W1_VS_NAIVE = 4.0  # naive's CPU ÷ imgpipe's, at least
W2_VS_VIPS = 0.90
SSIM_SLACK = 0.003  # every output's SSIM ≥ libvips' SSIM of the same output − this
BYTES_SLACK = 0.05  # every output's bytes within ±5% of libvips'
RSS_24MP_MIB = 100
RSS_100MP_MIB = 250  # or docs/DEPLOY.md says what a Lambda needs for MAX_PIXELS


class Target(NamedTuple):
    name: str
    measured: str
    target: str
    met: bool | None  # None: not measured by this run


def versions() -> dict[str, str]:
    """The libraries each peer runs, as installed in this interpreter."""
    found = {}
    for package in ("Pillow", "cykooz-resizer", "pyvips", "pyvips-binary"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "absent"
    try:
        import pyvips

        found["libvips"] = ".".join(str(pyvips.version(i)) for i in range(3))
    except Exception:  # no libvips here: the vips peer errors too and the table says so
        found["libvips"] = "absent"
    try:
        from chalicelib import resample

        found["imgpipe resampler"] = ("cykooz-resizer Lanczos3 (fast_image_resize, SIMD)"
                                      if resample.vectorised("RGB") else "Pillow LANCZOS (no cykooz wheel here)")
    except ImportError:
        found["imgpipe resampler"] = "absent"
    return found


def peers(v: dict[str, str]) -> list[str]:
    """Each peer's exact configuration, one line each."""
    return [
        f"naive: Pillow {v.get('Pillow')}: Image.open, ImageOps.exif_transpose, convert('RGB'), "
        "resize(LANCZOS) from full size for each size, save(quality=the workload's)",
        f"imgpipe: process_image as the handler calls it (placeholder included); resampling: "
        f"{v.get('imgpipe resampler')} {v.get('cykooz-resizer')}; decode and encode: Pillow {v.get('Pillow')} "
        "(DCT-scaled JPEG decode, WebP method 4); ICC: converted once at the largest size, "
        "each profile's lcms transform kept per process (rounds repeat photos, so after round 1 "
        "it is reused, as a warm Lambda reuses it for photos with the same profile)",
        f"vips: libvips {v.get('libvips')} (pyvips {v.get('pyvips')}, pyvips-binary {v.get('pyvips-binary')}): "
        "thumbnail_buffer(size='down', output_profile='srgb' only for ICC-tagged photos), thumbnail_image "
        "cascade, jpegsave Q, webpsave Q effort=4, keep=0; VIPS_CONCURRENCY = its CPUs",
        "all: one worker process each, pinned to 1 or 2 CPUs (sched_setaffinity), MALLOC_ARENA_MAX=2",
    ]


def check(r: dict) -> list[Target]:
    """Every target of issue 21 that `make bench` measures, against results `r`."""
    s, vs, rss = r.get("summary", {}), r.get("vs_vips", {}), r.get("peak_rss", {})
    rows: list[Target] = []
    ours = s.get("W1", {}).get("imgpipe-1", {})
    ratio = ours.get("x_vips1_cpu")
    rows.append(Target("W1 CPU ÷ fair libvips (1 CPU)", _x(ratio), f"≤ {W1_VS_VIPS:.2f}×",
                       None if ratio is None else ratio <= W1_VS_VIPS))
    naive = ours.get("x_naive_cpu")
    faster = 1 / naive if naive else None
    rows.append(Target("W1 naive CPU ÷ imgpipe's (1 CPU)", _x(faster), f"≥ {W1_VS_NAIVE:.1f}×",
                       None if faster is None else faster >= W1_VS_NAIVE))
    ratio = s.get("W2", {}).get("imgpipe-1", {}).get("x_vips1_cpu")
    rows.append(Target("W2 CPU ÷ fair libvips (1 CPU)", _x(ratio), f"≤ {W2_VS_VIPS:.2f}×",
                       None if ratio is None else ratio <= W2_VS_VIPS))
    for workload in ("W1", "W2"):
        cmp = vs.get(workload)
        delta = cmp and cmp["worst_ssim_delta"]
        rows.append(Target(f"{workload} SSIM of every output − libvips'", _num(delta, "+.4f", "worst "),
                           f"≥ −{SSIM_SLACK}", None if cmp is None else delta >= -SSIM_SLACK))
        lo, hi = cmp["bytes_ratio_range"] if cmp else (None, None)
        rows.append(Target(f"{workload} bytes of every output ÷ libvips'",
                           "–" if lo is None else f"{lo:.3f}–{hi:.3f}",
                           f"{1 - BYTES_SLACK:.2f}–{1 + BYTES_SLACK:.2f}",
                           None if lo is None else 1 - BYTES_SLACK <= lo and hi <= 1 + BYTES_SLACK))
    largest = next((k for k in rss if k.endswith(" W2") and not k.startswith("png_100mp")), None)
    for name in ("imgpipe-1", "imgpipe-2"):
        peak = rss.get(largest, {}).get(name, {}).get("rss_peak_mib") if largest else None
        rows.append(Target(f"Peak RSS, W2, largest photo ({name})", _num(peak, ".0f", "", " MiB"),
                           f"≤ {RSS_24MP_MIB} MiB", None if peak is None else peak <= RSS_24MP_MIB))
    big = next((v for k, v in rss.items() if k.startswith("png_100mp")), {})
    peak = big.get("imgpipe-1", {}).get("rss_peak_mib")
    vips = big.get("vips-1", {}).get("rss_peak_mib")
    rows.append(Target("Peak RSS, W2, 100 MP PNG (imgpipe-1)",
                       _num(peak, ".0f", "", " MiB") + ("" if vips is None else f" (libvips {vips:.0f})"),
                       f"≤ {RSS_100MP_MIB} MiB, or the Lambda memory documented",
                       None if peak is None else peak <= RSS_100MP_MIB))
    return rows


def _x(value: float | None) -> str:
    return _num(value, ".2f", "", "×")


def _num(value: float | None, fmt: str, before: str = "", after: str = "") -> str:
    return "–" if value is None else f"{before}{format(value, fmt)}{after}"


def _verdict(met: bool | None) -> str:
    return "not measured" if met is None else "met" if met else "NOT MET"


ELSEWHERE = [
    "upload → COMPLETE, one 12 MP photo, p50 ≤ 1.0 s: `make bench-e2e`",
    "the API function imports neither Pillow, the resampler nor webhook code: "
    "tests/test_config.py (a test, not a timing)",
]


def render(r: dict) -> str:
    """The targets as plain text (≤ 100 columns), the peers' configuration after them."""
    rows = check(r)
    width = max(len(t.name) for t in rows)
    lines = [f"Issue 21 targets (load average at the end: {_load(r)}; largest photo: {_largest(r)}):",
             f"  {'target':<{width}} {'measured':<21} {'target':<10} verdict"]
    for t in rows:
        target = t.target.split(",")[0]
        lines.append(f"  {t.name:<{width}} {t.measured:<21} {target:<10} {_verdict(t.met)}")
    for line in ELSEWHERE:
        lines += textwrap.wrap(line, 100, initial_indent="  elsewhere: ", subsequent_indent=" " * 6)
    lines.append("Peers, exactly as run:")
    for line in peers(r.get("versions") or versions()):
        lines += textwrap.wrap(line, 100, initial_indent="  ", subsequent_indent=" " * 6)
    return "\n".join(lines)


def markdown(r: dict) -> str:
    """The targets as a Markdown table, for docs/PERFORMANCE.md."""
    lines = [f"Largest photo: {_largest(r)}.", "", "| target | measured | target | |", "|---|---|---|---|"]
    lines += [f"| {t.name} | {t.measured} | {t.target} | {_verdict(t.met).lower().replace('not met', '**not met**')} |"
              for t in check(r)]
    lines += ["", "Peers, exactly as run:", ""] + [f"- {line}" for line in peers(r.get("versions") or versions())]
    return "\n".join(lines)


def _largest(r: dict) -> str:
    return next((k.rsplit(" ", 1)[0] for k in r.get("peak_rss", {}) if not k.startswith("png_100mp")), "–")


def _load(r: dict) -> str:
    load = r.get("load")
    return "–" if not load else f"{load[0]:.2f}"
