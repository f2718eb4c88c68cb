"""Crop placement: focal points, the saliency measure, and the edges of the picture."""

import pytest
from PIL import Image, ImageDraw

from chalicelib.crop import CENTRE, measure_interest, place_crop


def with_subject(size, box, colour=(224, 172, 140), background=(128, 128, 128)) -> Image.Image:
    picture = Image.new("RGB", size, background)
    ImageDraw.Draw(picture).ellipse(box, fill=colour)
    return picture


def test_a_focus_is_centred_when_the_picture_allows():
    assert place_crop((1200, 600), (600, 600), (0.5, 0.5)) == (300, 0, 900, 600)
    assert place_crop((1200, 600), (600, 600), (0.6, 0.5)) == (420, 0, 1020, 600)


@pytest.mark.parametrize("focus,expected", [
    ((0.0, 0.0), (0, 0, 600, 600)),
    ((1.0, 1.0), (600, 0, 1200, 600)),
    ((0.95, 0.5), (600, 0, 1200, 600)),
])
def test_a_focus_near_an_edge_slides_the_window_back_inside(focus, expected):
    assert place_crop((1200, 600), (600, 600), focus) == expected


def test_a_window_larger_than_the_picture_is_the_whole_picture():
    assert place_crop((300, 200), (400, 400), (0.9, 0.1)) == (0, 0, 300, 200)


@pytest.mark.parametrize("size,subject,crop,axis,side", [
    ((1200, 600), (950, 200, 1150, 400), (600, 600), 0, "high"),   # face at the right
    ((1200, 600), (50, 200, 250, 400), (600, 600), 0, "low"),      # at the left
    ((600, 1200), (200, 50, 400, 250), (600, 600), 1, "low"),      # at the top of a portrait
    ((600, 1200), (200, 950, 400, 1150), (600, 480), 1, "high"),   # at the bottom
])
def test_the_salient_crop_keeps_the_subject(size, subject, crop, axis, side):
    picture = with_subject(size, subject)
    focus = measure_interest(picture).focus(size, crop)
    window = place_crop(size, crop, focus)
    assert window[axis] <= subject[axis] and window[axis + 2] >= subject[axis + 2]  # all of it in frame
    assert (focus[axis] > 0.5) == (side == "high")


def test_a_flat_picture_keeps_the_centre_crop():
    picture = Image.new("RGB", (1200, 600), (40, 40, 40))
    assert measure_interest(picture).focus(picture.size, (600, 600)) == CENTRE


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK", "P", "1"])
def test_interest_is_measured_in_any_mode(mode):
    picture = with_subject((900, 300), (700, 50, 900, 250)).convert(mode)
    assert measure_interest(picture).focus(picture.size, (300, 300))[0] > 0.5


@pytest.mark.parametrize("size", [(1, 1), (1, 5000), (5000, 1), (2, 3)])
def test_interest_of_slivers(size):
    picture = Image.new("RGB", size, (10, 200, 30))
    x, y = measure_interest(picture).focus(size, (min(size), min(size)))
    assert 0 <= x <= 1 and 0 <= y <= 1
