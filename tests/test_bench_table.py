"""`make bench`'s table on made-up numbers: ≤ 100 columns, naive÷ as the README reads it
(naive's time ÷ imgpipe's), and the labels, workloads and peers explained beside it."""

from bench.__main__ import CONFIGS
from bench.impls import WORKLOADS
from bench.terminal import render


def entry(wall: float, cpu: float, x_naive: float | None, x_vips1: float | None) -> dict:
    return {"wall_ms": wall, "wall_ms_range": [wall * 0.9, wall * 1.2], "cpu_ms": cpu, "images_per_s": 1000 / wall,
            "output_bytes_per_image": 66_000, "x_naive_wall": x_naive, "x_vips1_wall": x_vips1,
            "x_vips2_wall": x_vips1, "x_own1_wall": None, "x_vips1_cpu": x_vips1}


SUMMARY = {
    "W1": {"naive": entry(300, 300, 1.0, 4.0), "imgpipe-1": entry(100, 100, 0.25, 1.3333),
           "vips-1": entry(75, 75, 0.25, 1.0)},
    "W2": {"naive": entry(1510, 1510, 1.0, 2.4), "imgpipe-2": entry(639, 946, 0.4232, 0.88),
           "vips-2": entry(726, 726, 0.48, 1.0)},
}
QUALITY = {"W1": {"imgpipe-1": {"min_ssim": 0.8976, "mean_psnr": 35.71}}}


def printed() -> str:
    return render(SUMMARY, QUALITY, {"big.jpg W2": {"imgpipe-2": {"rss_peak_mib": 90}}}, "big.jpg",
                  {w: WORKLOADS[w] for w in ("W1", "W2")}, CONFIGS)


def test_the_table_fits_100_columns():
    assert max(len(line) for line in printed().splitlines()) <= 100


def column(row: str, name: str) -> str:
    """The cell of `row` under the header `name` (the numbers are right-aligned to it)."""
    lines = printed().splitlines()
    header = next(line for line in lines if line.startswith("wl "))
    [line] = [line for line in lines if line.startswith(row)]
    end = header.index(name) + len(name)
    return line[:end].split()[-1]


def test_naive_ratio_is_naive_time_over_the_rows():
    assert column("W1 imgpipe-1", "naive÷") == "4.00"  # naive 300 ms ÷ imgpipe 100 ms: 4× faster, not 0.25
    assert column("W2 imgpipe-2", "naive÷") == "2.36"  # 1 / 0.4232
    assert column("W2 imgpipe-2", "÷vips2") == "0.88"  # 639 ms of libvips' 726: as the README reports


def test_labels_workloads_and_peers_are_explained():
    text = printed()
    for label in CONFIGS:
        assert f"  {label}: " in text
    assert "imgpipe-2: chalicelib.imaging.process_image" in text and "2 CPUs" in text
    assert "W1: default 800×600 jpeg q82" in text and "r2048 2048×2048 webp q80" in text
    assert "naive's time ÷ this row's" in text and "this row's time ÷ libvips'" in text
