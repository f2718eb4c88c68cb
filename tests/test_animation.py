"""Animated GIF/WebP/PNG: frames decoded once for all renditions, APNG counted
as animated, lossless then lossy WebP tried before a still, and no animated
rendition larger than the source file."""

import io
import random

import pytest
from PIL import Image, ImageDraw

from chalicelib.config import Settings
from chalicelib.imaging import decode, encode, process_image, rendition_outputs
from chalicelib.renditions import RenditionSpec
from tests import images
from tests import reference_images as ref
from tests.conftest import shared_corpus

OUTPUTS = rendition_outputs(Settings("in", "out", "table"))  # default, thumb, medium, large × auto, webp
LIMIT = 100_000_000


def flat_animation(frames: int = 12, size: tuple[int, int] = (160, 120)) -> bytes:
    """A square moving over a flat background, 4 colours: a sticker or a UI recording."""
    pictures = []
    for n in range(frames):
        picture = Image.new("RGB", size, (240, 240, 230))
        draw = ImageDraw.Draw(picture)
        draw.rectangle((10 * n, 20, 10 * n + 40, 60), fill=(200, 30, 30))
        draw.text((5, 90), f"frame {n}", fill=(20, 20, 120))
        pictures.append(picture.quantize(8))
    return images.encode(pictures[0], "GIF", save_all=True, append_images=pictures[1:], duration=80, loop=0)


def noise_animation(frames: int = 4, side: int = 64) -> bytes:
    """Black and white noise: 1 bit a pixel in GIF, far more once resampled to grey."""
    rng = random.Random(7)
    pictures = [Image.frombytes("L", (side, side), bytes(rng.choice((0, 255)) for _ in range(side * side)))
                .convert("P") for _ in range(frames)]
    return images.encode(pictures[0], "GIF", save_all=True, append_images=pictures[1:], duration=100, loop=0)


def check_bounded(data: bytes, result) -> None:
    for rendition in result.renditions:
        if rendition.format == "webp":  # the animated outputs (or their first-frame fallback)
            assert len(rendition.data) <= len(data), (rendition.name, len(rendition.data), len(data))
            assert rendition.width <= result.source.width and rendition.height <= result.source.height


def test_frames_are_decoded_once_and_renditions_are_no_larger_than_the_source(monkeypatch):
    data = flat_animation()
    decoded = []
    real = decode.decode_frame
    monkeypatch.setattr(decode, "decode_frame", lambda *a: decoded.append(1) or real(*a))
    result = process_image(data, OUTPUTS, LIMIT)
    assert len(decoded) == 12  # once per frame, not once per frame and rendition
    check_bounded(data, result)
    by_name = {(r.name, r.format): r for r in result.renditions}
    assert by_name["default", "webp"].frames == 12  # 160×120 fits: kept animated, lossless
    assert by_name["medium", "webp"].same_as is not None  # the same animation, stored once
    out = images.decode(by_name["default", "webp"].data)
    assert out.n_frames == 12 and images.pixel_close(out.convert("RGB").getpixel((20, 40)), (200, 30, 30), 8)


def test_a_rendition_that_would_be_larger_falls_back_to_its_first_frame():
    data = noise_animation()
    result = process_image(data, [(RenditionSpec("most", 48, 48), "webp")], LIMIT)
    (rendition,) = result.renditions
    assert result.source.frames == 4 and rendition.frames == 1
    assert len(rendition.data) <= len(data) and images.decode(rendition.data).n_frames == 1


@pytest.mark.parametrize("name", ["X06_pillow_iss634_animated.gif", "X07_bimg_test_animated.gif"])
def test_corpus_animations_are_bounded_in_bytes(name):
    """The CPU bound (5 s per source) is measured by `python -m bench.animation`, not here."""
    data = shared_corpus("photos", name).read_bytes()
    result = process_image(data, OUTPUTS, LIMIT)
    assert result.source.frames > 1
    check_bounded(data, result)
    assert any(r.frames > 1 for r in result.renditions)


# --- the policy (issue 19, section 3) ------------------------------------------------------


def _frames(data: bytes) -> list[Image.Image]:
    image = Image.open(io.BytesIO(data))
    frames = []
    for number in range(image.n_frames):
        image.seek(number)
        frames.append(image.convert("RGB"))
    return frames


def test_apng_is_counted_as_an_animation():
    apng = Image.open(io.BytesIO(ref.apng().data))
    assert decode.frame_count(apng) == 4
    still = Image.open(io.BytesIO(images.encode(images.quadrants(), "PNG")))
    assert decode.frame_count(still) == 1


def test_gif_and_webp_are_counted_as_before():
    for fmt in ("GIF", "WEBP"):
        assert decode.frame_count(Image.open(io.BytesIO(images.animation(fmt)))) == 3


def test_lossy_is_tried_before_giving_up_at_the_source_size():
    """The lossy animated WebP sample: lossless frames are larger than the source."""
    sample = ref.animated_webp(lossless=False)
    frames = _frames(sample.data)
    durations, limit = [120] * len(frames), len(sample.data)
    lossless = io.BytesIO()
    frames[0].save(lossless, "WEBP", save_all=True, append_images=frames[1:], lossless=True, quality=50,
                   method=1)
    assert lossless.tell() > limit  # lossless alone would have given a still
    data, kept = encode.encode_animated(frames, durations, 0, limit, resized=False)
    assert kept == 4 and len(data) <= limit
    assert Image.open(io.BytesIO(data)).n_frames == 4


def test_the_bound_still_holds():
    frames = _frames(ref.animated_webp(lossless=False).data)
    data, kept = encode.encode_animated(frames, [120] * 4, 0, 200, resized=False)
    assert kept == 1 and not getattr(Image.open(io.BytesIO(data)), "is_animated", False)


def test_resized_frames_go_straight_to_lossy():
    frames = [f.resize((48, 32)) for f in _frames(ref.apng().data)]
    data, kept = encode.encode_animated(frames, [120] * 4, 0, 10**6, resized=True)
    assert kept == 4 and b"VP8L" not in data  # no lossless bitstream
