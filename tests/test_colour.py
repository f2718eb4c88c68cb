"""chalicelib/imaging/colour.py (issue 19): a PNG colour key (tRNS) becomes alpha at
every bit depth; untagged CMYK goes through the shipped press profile, as libvips
shows it; greyscale ICC profiles are honoured."""

import io
import struct
import zlib

import pytest
from PIL import Image, ImageCms

from chalicelib.imaging import colour as cmyk
from chalicelib.imaging.colour import colour_key, colour_key_to_alpha, grey_to_srgb, grey_transform
from tests import images
from tests import reference_images as ref
from tests.reference import mean_difference, vips_frames

KEYED = [ref.grey_trns_png(d) for d in (1, 2, 4, 8, 16)] + [ref.rgb_trns_png(d) for d in (8, 16)]


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _alpha(image: Image.Image) -> Image.Image:
    return image.convert("RGBA").getchannel("A").convert("RGB")


@pytest.mark.parametrize("sample", KEYED, ids=lambda s: s.name)
def test_the_key_becomes_alpha_exactly_where_the_key_is(sample):
    keyed = colour_key_to_alpha(_open(sample.data), sample.data)
    assert keyed.mode in ("LA", "RGBA")
    assert "transparency" not in keyed.info
    assert mean_difference(_alpha(keyed), _alpha(sample.truth[0])) == 0
    assert mean_difference(keyed.convert("RGBA"), sample.truth[0]) < 0.5  # 16-bit grey: v/257, truncated


def _rgb16_png(pixels: list[tuple[int, int, int]], key: tuple[int, int, int]) -> bytes:
    rows = [[s for p in pixels for s in p]]
    return ref.write_png(len(pixels), 1, 2, 16, rows, ref._png_chunk(b"tRNS", struct.pack(">3H", *key)))


def test_sixteen_bit_rgb_matches_all_sixteen_bits():
    """Pillow's RGB of a 16-bit PNG keeps the high bytes only: a colour one
    step from the key looks the same there, and must stay opaque."""
    key = (0xFF00, 0x1234, 0x0001)
    data = _rgb16_png([key, (0xFF00, 0x1234, 0x0002), (0xFF01, 0x1234, 0x0001), (0, 0, 0)], key)
    keyed = colour_key_to_alpha(_open(data), data)
    assert [keyed.getpixel((x, 0))[3] for x in range(4)] == [0, 255, 255, 255]


def test_sixteen_bit_grey_matches_all_sixteen_bits():
    key = ref._png_chunk(b"tRNS", struct.pack(">H", 40000))
    data = ref.write_png(3, 1, 0, 16, [[40000, 40001, 39999]], key)
    keyed = colour_key_to_alpha(_open(data), data)
    assert [keyed.getpixel((x, 0))[1] for x in range(3)] == [0, 255, 255]


def test_a_key_out_of_range_or_no_key_leaves_the_image_alone():
    out_of_range = ref.write_png(2, 1, 0, 4, [[15, 3]], ref._png_chunk(b"tRNS", struct.pack(">H", 99)))
    image = _open(out_of_range)
    assert colour_key_to_alpha(image, out_of_range) is image
    plain = ref.write_png(2, 1, 0, 8, [[15, 3]])
    image = _open(plain)
    assert colour_key(plain) is None and colour_key_to_alpha(image, plain) is image


def test_palette_and_alpha_images_are_left_to_pillow():
    buffer = io.BytesIO()
    Image.new("P", (4, 4)).save(buffer, "PNG", transparency=0)
    assert colour_key(buffer.getvalue()) is None
    buffer = io.BytesIO()
    Image.new("RGBA", (4, 4)).save(buffer, "PNG")
    assert colour_key(buffer.getvalue()) is None


def test_the_icc_profile_survives_for_colour_management():
    icc = ref.grey_profile()
    data = ref.write_png(2, 1, 0, 8, [[15, 3]], ref._png_chunk(b"tRNS", struct.pack(">H", 3))
                         + ref._png_chunk(b"iCCP", b"grey\0\0" + zlib.compress(icc)))
    keyed = colour_key_to_alpha(_open(data), data)
    assert keyed.info.get("icc_profile") == icc


@pytest.mark.parametrize("cut", [20, 33, 45, 60])
def test_truncated_headers_are_not_read_past(cut):
    data = ref.grey_trns_png(4).data[:cut]
    colour_key(data)  # no exception, whatever it finds


# --- untagged CMYK ------------------------------------------------------------------------


def test_the_shipped_profile_is_the_public_domain_cmyk_press_profile():
    profile = ImageCms.ImageCmsProfile(str(cmyk.PRESS_PROFILE))
    assert profile.profile.xcolor_space == "CMYK"
    assert "public domain" in ImageCms.getProfileCopyright(profile)


def test_untagged_cmyk_comes_out_as_libvips_shows_it_and_naive_inversion_does_not():
    sample = ref.cmyk_jpeg()
    reference = vips_frames(sample.data)
    if reference is None:
        pytest.skip("libvips (pyvips) is not available")
    image = _open(sample.data)
    converted = cmyk.untagged_cmyk_to_srgb(image)
    assert converted.mode == "RGB" and converted.size == image.size and converted.info == {}
    assert mean_difference(converted, reference[0]) < 1
    assert mean_difference(image.convert("RGB"), reference[0]) > 10  # what imaging does today


def test_the_transform_is_built_once():
    assert cmyk.untagged_cmyk_transform() is cmyk.untagged_cmyk_transform()


def test_other_modes_are_refused():
    with pytest.raises(ValueError):
        cmyk.untagged_cmyk_to_srgb(Image.new("RGB", (2, 2)))


# --- greyscale ICC ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_linear_grey_profile_lightens_the_picture_as_libvips_and_browsers_show_it(fmt):
    sample = ref.grey_icc(fmt)
    image = Image.open(io.BytesIO(sample.data))
    image.load()
    shown = grey_to_srgb(image)
    assert shown.mode == "RGB" and shown.info == {}
    assert mean_difference(shown, sample.truth[0]) < 2
    assert mean_difference(image.convert("RGB"), sample.truth[0]) > 20  # the levels taken as sRGB


def test_no_broken_or_foreign_profile_gives_a_transform():
    assert grey_transform(None) is None
    assert grey_transform(b"not a profile") is None
    assert grey_transform(images.display_p3_profile()) is None  # RGB, not GRAY
    image = Image.new("L", (4, 4), 100)
    assert grey_to_srgb(image) is image


# --- converted once, at the largest size ------------------------------------------------

def test_a_tagged_image_is_converted_once_and_every_size_comes_out_in_srgb(monkeypatch):
    """Smaller renditions are cut from the converted largest one (as libvips' cascade
    does), except where none is twice their size: those are cut from the source and
    converted themselves. Every one shows the press profile's sRGB colour."""
    from chalicelib.imaging import process_image
    from chalicelib.renditions import RenditionSpec

    source = Image.new("CMYK", (800, 600), (10, 200, 60, 20))  # untagged: the press profile
    expected = cmyk.untagged_cmyk_to_srgb(source).getpixel((0, 0))
    converted: list[tuple[int, int]] = []
    real_apply = ImageCms.ImageCmsTransform.apply

    def counting_apply(self, image, *args):
        converted.append(image.size)
        return real_apply(self, image, *args)

    monkeypatch.setattr(ImageCms.ImageCmsTransform, "apply", counting_apply)
    specs = [RenditionSpec(f"r{w}", w, w) for w in (400, 200, 100, 300)]
    result = process_image(images.encode(source, "TIFF"), [(s, "png") for s in specs], 100_000_000)

    # 400 from the source; 200 and 100 from the converted 400; 300 has no made rendition
    # twice its size, so it is cut from the source and converted on its own.
    assert sorted(converted) == [(300, 225), (400, 300)]
    for rendition in result.renditions:
        out = images.decode(rendition.data)
        assert out.mode == "RGB"
        assert images.pixel_close(out.getpixel((out.width // 2, out.height // 2)), expected, 2)


def test_a_profile_seen_again_reuses_its_transform():
    """Building one costs as much as converting an 800x600 picture: a warm function
    keeps it for the next photo with the same profile, and builds another for a new one."""
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    first = cmyk.normalise(Image.new("RGB", (4, 4)))[1]
    assert first is None  # untagged RGB: nothing to convert
    tagged = Image.new("RGB", (4, 4))
    tagged.info["icc_profile"] = srgb
    one, again = cmyk.normalise(tagged)[1], cmyk.normalise(tagged.copy())[1]
    assert one is not None and one is again
    another = bytearray(srgb)
    another[24:26] = (1999).to_bytes(2, "big")  # the header's creation year: other bytes, a valid profile
    tagged.info["icc_profile"] = bytes(another)
    other = cmyk.normalise(tagged)[1]
    assert other is not None and other is not one
