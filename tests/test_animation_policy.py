"""chalicelib/animation_policy.py: APNG is animated; lossy WebP is tried before a still
(issue 19, section 3)."""

import io

from PIL import Image

from chalicelib import animation_policy
from chalicelib.imaging import encode as animation
from tests import images
from tests import reference_images as ref


def _frames(data: bytes) -> list[Image.Image]:
    image = Image.open(io.BytesIO(data))
    frames = []
    for number in range(image.n_frames):
        image.seek(number)
        frames.append(image.convert("RGB"))
    return frames


def test_apng_is_counted_as_an_animation():
    apng = Image.open(io.BytesIO(ref.apng().data))
    assert animation_policy.frame_count(apng) == 4
    still = Image.open(io.BytesIO(images.encode(images.quadrants(), "PNG")))
    assert animation_policy.frame_count(still) == 1


def test_gif_and_webp_are_counted_as_before():
    for fmt in ("GIF", "WEBP"):
        assert animation_policy.frame_count(Image.open(io.BytesIO(images.animation(fmt)))) == 3


def test_lossy_is_tried_before_giving_up_at_the_source_size():
    """The lossy animated WebP sample: lossless frames are larger than the source."""
    sample = ref.animated_webp(lossless=False)
    frames = _frames(sample.data)
    durations, limit = [120] * len(frames), len(sample.data)
    _, kept_before = animation.encode_animated(frames, durations, 0, limit, resized=False)
    data, kept = animation_policy.encode_animated(frames, durations, 0, limit, resized=False)
    assert kept_before == 1  # today: a still
    assert kept == 4 and len(data) <= limit
    assert Image.open(io.BytesIO(data)).n_frames == 4


def test_the_bound_still_holds():
    frames = _frames(ref.animated_webp(lossless=False).data)
    data, kept = animation_policy.encode_animated(frames, [120] * 4, 0, 200, resized=False)
    assert kept == 1 and not getattr(Image.open(io.BytesIO(data)), "is_animated", False)


def test_resized_frames_go_straight_to_lossy():
    frames = [f.resize((48, 32)) for f in _frames(ref.apng().data)]
    data, kept = animation_policy.encode_animated(frames, [120] * 4, 0, 10**6, resized=True)
    assert kept == 4 and b"VP8L" not in data  # no lossless bitstream
