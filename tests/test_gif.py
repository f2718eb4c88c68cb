"""chalicelib/imaging/gif.py: GIF frames on the logical screen, as browsers draw them (issue 19, section 4)."""

import io
import random

import pytest
from PIL import Image

from chalicelib.imaging.gif import GifLayout, drawn, needs_fixing, on_screen, read_layout
from tests import images
from tests import reference_images as ref
from tests.reference import mean_difference

GIFS = ref.gif_samples()


def _alpha(image: Image.Image) -> Image.Image:
    return image.convert("RGBA").getchannel("A").convert("RGB")


@pytest.mark.parametrize("sample", GIFS, ids=lambda s: s.name)
def test_pillow_frames_on_the_screen_are_what_a_browser_shows(sample):
    layout = read_layout(sample.data)
    image = Image.open(io.BytesIO(sample.data))
    assert needs_fixing(layout, image.size)
    for number, truth in enumerate(sample.truth):
        image.seek(number)
        image.load()
        shown = on_screen(image, layout, number)
        assert shown.size == layout.screen == truth.size
        assert mean_difference(shown.convert("RGBA"), truth) == 0
        assert mean_difference(_alpha(shown), _alpha(truth)) == 0


def test_an_ordinary_gif_needs_nothing():
    data = images.animation("GIF")
    layout = read_layout(data)
    assert layout.screen == (120, 90) and len(layout.boxes) == 3
    assert not needs_fixing(layout, Image.open(io.BytesIO(data)).size)


def test_restore_to_background_clears_what_the_frame_drew():
    layout = GifLayout((4, 4), ((0, 0, 2, 4), (2, 0, 4, 4)), (2, 1))
    assert drawn(layout, 0).getpixel((0, 0)) == 255
    assert drawn(layout, 1).getpixel((0, 0)) == 0 and drawn(layout, 1).getpixel((3, 0)) == 255


def test_unfollowable_or_truncated_blocks():
    assert read_layout(b"GIF89a") is None
    assert read_layout(b"\x89PNG" + b"\0" * 20) is None
    data = GIFS[2].data
    rng = random.Random(19)
    for _ in range(300):
        cut = bytearray(data[: rng.randrange(len(data))])
        if cut and rng.random() < 0.5:
            cut[rng.randrange(len(cut))] = rng.randrange(256)
        layout = read_layout(bytes(cut), max_frames=50)
        assert layout is None or len(layout.boxes) <= 50
