"""bench.variantstack's pure parts: what counts as a failure of "rendered once, then
stored", the percentiles and the latency table, and which photo is nearest 12 MP."""

from pathlib import Path

from PIL import Image

from bench import variantstack
from bench.variantstack import Answer, failures, percentile, table

RENDERED = Answer(302, "rendered", 0.100, 0.010)
STORED = Answer(302, "stored", 0.015)


def test_one_render_then_stored_answers_is_no_failure():
    assert failures(RENDERED, [STORED] * 20) == []


def test_a_repeated_request_that_rendered_is_a_failure():
    problems = failures(RENDERED, [STORED] * 19 + [Answer(302, "rendered", 0.09)])
    assert problems == ["1 of 20 repeated requests were not served from storage (HTTP 302 rendered)"]


def test_a_first_request_that_did_not_render_or_an_error_is_a_failure():
    assert failures(Answer(302, "stored", 0.01), [STORED]) == [
        "the first request answered HTTP 302 (stored), not a 302 that rendered"]
    assert failures(RENDERED, [Answer(404, "", 0.01)]) == [
        "1 of 1 repeated requests were not served from storage (HTTP 404 no header)"]


def test_percentiles_interpolate_and_one_value_is_its_own():
    values = [float(v) for v in range(1, 21)]  # 1 … 20
    assert percentile(values, 0.5) == 10.5
    assert percentile(values, 0.95) == 19.05
    assert percentile([7.0], 0.95) == 7.0


def test_the_table_has_the_first_and_the_repeated_rows_in_ms():
    followed = [Answer(302, "stored", 0.015, 0.005)] * 4
    lines = table(RENDERED, [STORED] * 4, followed)
    assert [line.split()[-3:] for line in lines[1:]] == [
        ["1", "100.0", "100.0"], ["1", "110.0", "110.0"], ["4", "15.0", "15.0"], ["4", "20.0", "20.0"]]
    assert lines[1].startswith("first request (renders), 302 alone")
    assert lines[4].startswith("repeated (stored), 302 + object GET")


def test_the_photo_nearest_the_target_pixel_count_is_picked(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(variantstack, "TARGET_PIXELS", 100 * 100)
    for name, side in (("a.jpg", 40), ("b.jpg", 110), ("c.jpg", 300)):
        Image.new("RGB", (side, side)).save(tmp_path / name)
    assert variantstack.closest_to_12mp(sorted(tmp_path.iterdir())).name == "b.jpg"
