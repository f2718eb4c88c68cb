"""bench/targets.py: each issue-21 target judged from a run's results, and unmeasured ones said so."""

from bench import targets

RESULTS = {
    "summary": {"W1": {"imgpipe-1": {"x_vips1_cpu": 0.79, "x_naive_cpu": 0.26}},
                "W2": {"imgpipe-1": {"x_vips1_cpu": 0.91}}},
    "vs_vips": {"W1": {"worst_ssim_delta": -0.0029, "bytes_ratio_range": [0.95, 1.05]},
                "W2": {"worst_ssim_delta": -0.0031, "bytes_ratio_range": [0.96, 1.051]}},
    "peak_rss": {"L01.jpg W1": {}, "L01.jpg W2": {"imgpipe-1": {"rss_peak_mib": 99.5}},
                 "png_100mp.png W2": {"imgpipe-1": {"rss_peak_mib": 251}, "vips-1": {"rss_peak_mib": 95}}},
    "versions": {"Pillow": "13.0.0", "libvips": "8.18.7"},
    "load": [1.0, 1.0, 1.0],
}


def test_each_target_is_judged_at_its_bound():
    verdicts = {t.name: t.met for t in targets.check(RESULTS)}
    assert verdicts == {
        "W1 CPU ÷ fair libvips (1 CPU)": True,
        "W1 naive CPU ÷ imgpipe's (1 CPU)": False,  # 3.85×
        "W2 CPU ÷ fair libvips (1 CPU)": False,
        "W1 SSIM of every output − libvips'": True,
        "W1 bytes of every output ÷ libvips'": True,
        "W2 SSIM of every output − libvips'": False,
        "W2 bytes of every output ÷ libvips'": False,
        "Peak RSS, W2, largest photo (imgpipe-1)": True,
        "Peak RSS, W2, largest photo (imgpipe-2)": None,  # not in this run
        "Peak RSS, W2, 100 MP PNG (imgpipe-1)": False,
    }


def test_the_printed_targets_fit_100_columns_and_name_each_peers_configuration():
    text = targets.render(RESULTS)
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "NOT MET" in text and "not measured" in text
    assert "libvips 8.18.7" in text and "Pillow 13.0.0" in text and "effort=4" in text
    assert "| Peak RSS, W2, 100 MP PNG (imgpipe-1) | 251 MiB (libvips 95) |" in targets.markdown(RESULTS)
