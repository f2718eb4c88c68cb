"""resample.lanczos against Pillow's LANCZOS: every mode, boxes, extreme
ratios and premultiplied alpha, on Pillow-made gradients with noise."""

import gc
import threading
import weakref

import numpy as np
import pytest
from PIL import Image

from chalicelib import resample

WIDTH, HEIGHT = 640, 480
# A 2048 px rendition's kind of work, a cover crop's fractional box, the
# 1:1 shifted box of a cover too small to fill its box, and thin strips.
CASES = [
    ((160, 120), None),
    ((213, 160), None),
    ((200, 100), (40.5, 60.25, 600.75, 340.5)),
    ((300, 300), (100.0, 0.0, 580.0, 480.0)),
    ((400, 300), (120.5, 90.25, 520.5, 390.25)),
    ((1, 480), None),
    ((640, 1), None),
    ((1, 1), None),
]


def _gradient(seed: int) -> Image.Image:
    """A smooth ramp with noise: edges for the filter, no flat areas to hide in."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, WIDTH)[None, :] + np.linspace(0, 60, HEIGHT)[:, None] - 30
    noisy = np.clip(ramp + rng.normal(0, 12, (HEIGHT, WIDTH)), 0, 255).astype(np.uint8)
    return Image.fromarray(noisy)


def _alpha() -> Image.Image:
    """Transparent, then a hard edge to opaque, then a soft ramp to transparent."""
    alpha = Image.new("L", (WIDTH, HEIGHT), 0)
    alpha.paste(255, (200, 0, 440, HEIGHT))
    alpha.paste(Image.linear_gradient("L").rotate(90).resize((200, HEIGHT)), (440, 0))
    return alpha


def _picture(mode: str) -> Image.Image:
    grey = _gradient(1)
    rgb = Image.merge("RGB", [grey, _gradient(2).transpose(Image.Transpose.FLIP_LEFT_RIGHT), _gradient(3)])
    if mode == "L":
        return grey
    if mode == "LA":
        return Image.merge("LA", [grey, _alpha()])
    if mode == "RGBA":
        return Image.merge("RGBA", [*rgb.split(), _alpha()])
    if mode == "I;16":
        wide = np.asarray(grey).astype("<u2") * 257 + np.arange(WIDTH, dtype="<u2")[None, :] % 200
        return Image.frombytes("I;16", (WIDTH, HEIGHT), wide.tobytes())
    if mode == "P":
        return rgb.quantize(64)
    if mode == "1":
        return grey.convert("1")
    return rgb.convert(mode)


def _values(image: Image.Image) -> np.ndarray:
    """Pixels as floats; RGBA and LA premultiplied (colour × alpha / 255), since
    a nearly transparent pixel's own colour is noise in Pillow's output too."""
    if image.mode == "I;16":
        return np.asarray(image.convert("I"), dtype=np.float64)
    values = np.asarray(image, dtype=np.float64)
    if image.mode in ("RGBA", "LA"):
        values = values.copy()
        values[..., :-1] *= values[..., -1:] / 255
    return values


def _compare(mode: str, size, box) -> tuple[float, float]:
    image = _picture(mode)
    expected = image.resize(size, Image.Resampling.LANCZOS, box=box)
    actual = resample.lanczos(image, size, box)
    assert (actual.size, actual.mode) == (expected.size, expected.mode)
    difference = np.abs(_values(actual) - _values(expected))
    return float(difference.mean()), float(difference.max())


@pytest.mark.parametrize("size, box", CASES)
@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "CMYK"])
def test_eight_bit_modes_match_pillow(mode, size, box):
    mean, worst = _compare(mode, size, box)
    assert mean < 0.5
    assert worst <= 8  # a ringing overshoot clipped in a different pass order


@pytest.mark.parametrize("size, box", CASES)
def test_sixteen_bit_matches_pillow(size, box):
    mean, worst = _compare("I;16", size, box)
    assert mean < 0.5 * 257
    assert worst <= 8 * 257


@pytest.mark.parametrize("mode", ["P", "1", "I", "F", "RGBX", "I;16B", "HSV"])
def test_other_modes_are_pillows_own_output(mode):
    image = _picture("RGB").convert("HSV") if mode == "HSV" else _picture(mode if mode != "I;16B" else "L")
    if mode == "I;16B":
        image = image.convert("I").convert("I;16B")
    box = (40.5, 60.25, 600.75, 340.5)
    expected = image.resize((200, 100), Image.Resampling.LANCZOS, box=box)
    actual = resample.lanczos(image, (200, 100), box)
    assert (actual.mode, actual.size) == (expected.mode, expected.size)
    assert actual.tobytes() == expected.tobytes()
    if mode == "P":
        assert actual.getpalette() == expected.getpalette()


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "CMYK", "I;16"])
def test_the_common_modes_are_vectorised(mode):
    """If cykooz stopped handling one of these, the tests above would still
    pass through Pillow: this one says the fast path is taken."""
    assert resample.vectorised(mode)


def test_transparent_colour_does_not_bleed_into_the_opaque_edge():
    """Red where alpha is 0, green where it is 255: resampled without
    premultiplying, the edge's mostly opaque pixels would turn red-brown."""
    colour = Image.new("RGB", (WIDTH, HEIGHT), (255, 0, 0))
    colour.paste((0, 255, 0), (WIDTH // 2, 0, WIDTH, HEIGHT))
    alpha = Image.new("L", (WIDTH, HEIGHT), 0)
    alpha.paste(255, (WIDTH // 2, 0, WIDTH, HEIGHT))
    image = Image.merge("RGBA", [*colour.split(), alpha])
    box = (0.5, 0.0, WIDTH - 0.25, HEIGHT)

    actual = np.asarray(resample.lanczos(image, (97, 40), box), dtype=np.int32)
    expected = np.asarray(image.resize((97, 40), Image.Resampling.LANCZOS, box=box), dtype=np.int32)
    visible = actual[..., 3] >= 64
    assert visible.any() and (actual[..., 3] < 255)[visible].any()  # the edge is in the test
    assert actual[..., 0][visible].max() <= 2  # no red
    assert np.abs(actual - expected)[visible].max() <= 2
    # What the test guards against: the same resize without premultiplying.
    as_if_premultiplied = Image.frombytes("RGBa", image.size, image.tobytes())
    straight = np.asarray(as_if_premultiplied.resize((97, 40), Image.Resampling.LANCZOS, box=box))
    assert straight[..., 0][visible].max() > 30


def test_keeps_info_and_copies_when_there_is_nothing_to_do():
    image = _picture("RGB")
    image.info["icc_profile"] = b"profile"
    same = resample.lanczos(image, image.size)
    assert same is not image and same.tobytes() == image.tobytes()
    assert resample.lanczos(image, (64, 48)).info["icc_profile"] == b"profile"


@pytest.mark.parametrize("size, box", [((0, 10), None), ((10, 10), (-1, 0, 100, 100)),
                                       ((10, 10), (0, 0, WIDTH + 1, 100))])
def test_bad_sizes_and_boxes_raise_pillows_error(size, box):
    image = _picture("RGB")
    with pytest.raises(ValueError) as pillows:
        image.resize(size, Image.Resampling.LANCZOS, box=box)
    with pytest.raises(ValueError) as ours:
        resample.lanczos(image, size, box)
    assert str(ours.value) == str(pillows.value)


def test_an_empty_box_is_pillows_business():
    image = _picture("RGB")
    box = (50, 0, 50, 100)  # Pillow accepts it
    expected = image.resize((10, 10), Image.Resampling.LANCZOS, box=box)
    assert resample.lanczos(image, (10, 10), box).tobytes() == expected.tobytes()


def test_threads_resize_at_once():
    """Each call has its own Resizer: one shared would refuse a second
    caller while the first, with the GIL released, is still resizing."""
    image = _picture("RGBA")
    expected = resample.lanczos(image, (320, 240)).tobytes()
    start = threading.Barrier(4)
    results: list[bytes] = []

    def resize() -> None:
        start.wait()
        for _ in range(5):
            results.append(resample.lanczos(image, (320, 240)).tobytes())

    threads = [threading.Thread(target=resize) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 20


def test_no_resizer_outlives_its_call(monkeypatch):
    """A kept Resizer would hold its scratch buffer (33 MiB after a 24 MP
    photo's 2048 px) until the next resize, in every thread that resized."""
    made: list[weakref.ref] = []

    class Watched(resample.Resizer):
        def __init__(self) -> None:
            super().__init__()
            made.append(weakref.ref(self))

    monkeypatch.setattr(resample, "Resizer", Watched)
    for mode in ("RGBA", "LA"):
        resample.lanczos(_picture(mode), (100, 75))
    gc.collect()
    assert len(made) == 2 and all(ref() is None for ref in made)


def test_without_the_wheel_pillow_does_it_all(monkeypatch):
    monkeypatch.setattr(resample, "Resizer", None)
    image = _picture("RGBA")
    assert not resample.vectorised("RGBA")
    actual = resample.lanczos(image, (100, 75), (10, 10, 600, 400))
    assert actual.tobytes() == image.resize((100, 75), Image.Resampling.LANCZOS, box=(10, 10, 600, 400)).tobytes()


def test_a_platform_without_the_wheel_says_so_once_at_start():
    """An arm64 Lambda (no wheel on PyPI) would resample 7-11x slower: the log says it."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['cykooz_resizer'] = None; from chalicelib import resample; "
            "print(resample.vectorised('RGB'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=__file__.rsplit("/tests/", 1)[0])
    assert done.stdout.split() == ["False"], done.stderr
    assert "cykooz-resizer is not installed" in done.stderr and "slower" in done.stderr
