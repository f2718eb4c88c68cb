"""process_image's renditions, resampled by chalicelib.resample, against an
independent reference: Pillow's own LANCZOS on the same decoded pixels.

Alpha (a hard edge between opaque noise and a transparent colour that must
not bleed), 16-bit, greyscale, CMYK (with and without a profile) and
animation frames. Renditions are PNG (lossless), sized under 2× the source so
no DCT-scaled decode intervenes. Tolerance: a mean absolute difference of
0.5 levels (cykooz-resizer measured 0.03–0.18 from Pillow on photos) and
the same size and mode.
"""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chalicelib import resample
from chalicelib.imaging import plan, process_image, resize
from chalicelib.renditions import RenditionSpec
from tests import images
from tests.conftest import shared_corpus

LIMIT = 100_000_000
SPEC = RenditionSpec("r", 200, 200)
MEAN_LEVELS = 0.5


@pytest.fixture
def modes(monkeypatch) -> list[str]:
    """The mode of every picture the pipeline hands to resample.lanczos."""
    seen, real = [], resample.lanczos

    def spy(image, size, box=None):
        seen.append(image.mode)
        return real(image, size, box)

    monkeypatch.setattr(resample, "lanczos", spy)
    return seen


def _noise(size: tuple[int, int], channels: int, seed: int = 3) -> np.ndarray:
    """A ramp with noise: every filter tap matters."""
    width, height = size
    ramp = np.linspace(0, 200, width)[None, :, None] + np.linspace(0, 40, height)[:, None, None]
    noise = np.random.default_rng(seed).normal(0, 15, (height, width, channels))
    return np.clip(ramp + noise, 0, 255)


def _rendition(data: bytes, spec: RenditionSpec = SPEC) -> Image.Image:
    [rendition] = process_image(data, [(spec, "png")], LIMIT).renditions
    return images.decode(rendition.data)


def _mean_difference(actual: Image.Image, expected: Image.Image) -> float:
    assert (actual.size, actual.mode) == (expected.size, expected.mode)
    return float(np.abs(np.asarray(actual, float) - np.asarray(expected, float)).mean())


def _premultiplied(image: Image.Image) -> np.ndarray:
    """Colour × alpha: the colour of a transparent pixel is nobody's business."""
    values = np.asarray(image, float)
    return np.concatenate([values[..., :3] * values[..., 3:] / 255, values[..., 3:]], axis=2)


def test_alpha_is_resampled_premultiplied_with_a_hard_edge(modes):
    colour = _noise((300, 200), 3).astype(np.uint8)
    alpha = np.zeros((200, 300), np.uint8)
    alpha[:, 120:] = 255  # opaque noise beside transparent pure green
    colour[:, :120] = (0, 255, 0)
    source = Image.fromarray(np.dstack([colour, alpha]), "RGBA")
    out = _rendition(images.encode(source, "PNG"))
    expected = source.resize(out.size, Image.Resampling.LANCZOS)
    assert modes == ["RGBA"] and out.mode == "RGBA" and out.size == (200, 133)
    difference = np.abs(_premultiplied(out) - _premultiplied(expected))
    assert difference.mean() <= MEAN_LEVELS
    edge = np.asarray(out)[:, 82:86]  # opaque side of the edge (x = 80 in the output)
    opaque = edge[..., 3] > 128
    assert opaque.any() and (edge[..., 1][opaque] < 230).all(), "green bled into the opaque edge"


def test_sixteen_bit_greyscale(modes):
    values = (_noise((300, 200), 1)[..., 0] * 257).astype(np.uint16)
    out = _rendition(images.encode(Image.fromarray(values), "PNG"))
    eight_bit = Image.fromarray((values // 257).astype(np.uint8))  # scaled to 8 bits as normalise does
    assert modes == ["L"]
    assert _mean_difference(out, eight_bit.resize(out.size, Image.Resampling.LANCZOS)) <= MEAN_LEVELS


def test_greyscale(modes):
    source = Image.fromarray(_noise((300, 200), 1)[..., 0].astype(np.uint8))
    out = _rendition(images.encode(source, "PNG"))
    assert modes == ["L"] and out.mode == "L"
    assert _mean_difference(out, source.resize(out.size, Image.Resampling.LANCZOS)) <= MEAN_LEVELS


def _through_the_colour_stage(data: bytes, size: tuple[int, int]) -> tuple[str, Image.Image]:
    """The pipeline's own colour handling (plan.normalise, then resize.to_srgb after the
    resize) around Pillow's LANCZOS: the mode resampled, and the reference rendition."""
    picture, transform = plan.normalise(images.decode(data))
    return picture.mode, resize.to_srgb(picture.resize(size, Image.Resampling.LANCZOS), transform)


def test_cmyk_without_a_profile(modes):
    source = Image.fromarray(_noise((300, 200), 4).astype(np.uint8), "CMYK")
    data = images.encode(source, "TIFF")  # lossless: the reference decodes the same pixels
    out = _rendition(data)
    mode, expected = _through_the_colour_stage(data, out.size)
    assert modes == [mode]
    assert _mean_difference(out, expected) <= MEAN_LEVELS


def test_cmyk_with_a_profile_is_resampled_as_cmyk(modes):
    """The real CMYK photo keeps CMYK through resampling; its profile applies after."""
    data = shared_corpus("photos", "X01_sharp_CMYK_icc.jpg").read_bytes()
    source = images.decode(data)
    spec = RenditionSpec("r", source.width * 3 // 5, source.height * 3 // 5)  # > 1/2: a full decode
    out = _rendition(data, spec)
    mode, expected = _through_the_colour_stage(data, out.size)
    assert modes == ["CMYK"] == [mode]
    assert _mean_difference(out, expected) <= MEAN_LEVELS


def test_animation_frames(modes, monkeypatch):
    """Each frame of an animated GIF, resized, before its lossy WebP encode."""
    frames = [Image.fromarray(_noise((300, 200), 3, seed).astype(np.uint8)).quantize(256) for seed in range(3)]
    data = images.encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
    kept, real = [], plan.encode_animated

    def capture(pictures, *args):
        kept.extend(pictures)
        return real(pictures, *args)

    monkeypatch.setattr(plan, "encode_animated", capture)
    result = process_image(data, [(SPEC, "webp")], LIMIT)
    assert result.renditions[0].frames == 3 and len(kept) == 3
    source = Image.open(io.BytesIO(data))
    for number, frame in enumerate(kept):
        source.seek(number)
        expected = source.convert("RGB").resize(frame.size, Image.Resampling.LANCZOS)
        assert _mean_difference(frame, expected) <= MEAN_LEVELS
    assert modes.count("RGB") >= 3  # the still's frame 0 and every animated frame


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "CMYK"])
def test_every_mode_the_decoder_gives_is_vectorised_where_the_wheel_is(mode):
    """decode.normalise gives these; on x86_64 (the deployed architecture) all go SIMD."""
    assert resample.vectorised(mode) == (resample.Resizer is not None)


def test_no_lanczos_resize_bypasses_the_resampler():
    """Only chalicelib/resample.py may call Pillow's LANCZOS (its fallback); BOX stays Pillow's."""
    root = Path(__file__).resolve().parents[1] / "chalicelib"
    bypass = [str(path.relative_to(root)) for path in root.rglob("*.py") if path.name != "resample.py"
              and any(name in path.read_text("utf-8") for name in ("Resampling.LANCZOS", "Image.LANCZOS"))]
    assert bypass == []
