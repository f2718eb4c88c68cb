"""imaging.py: decoding, orientation, colour, metadata and the renditions' geometry."""

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageCms, ImageDraw, ImageStat

from chalicelib import errors
from chalicelib.codecs import AVIF_SUPPORTED
from chalicelib.imaging import process_image
from chalicelib.imaging.decode import sniff_format
from chalicelib.renditions import COVER, RenditionSpec
from tests import images
from tests.conftest import shared_corpus

DEFAULT = RenditionSpec("default", 800, 600)
THUMB = RenditionSpec("thumb", 100, 100, COVER)
CENTRED = RenditionSpec("thumb", 100, 100, COVER, centred=True)
SMALL = RenditionSpec("small", 200, 200)
LIMIT = 100_000_000
ROOT = Path(__file__).resolve().parents[1]


def one(data: bytes, spec: RenditionSpec = SMALL, fmt: str = "auto", max_pixels: int = LIMIT):
    result = process_image(data, [(spec, fmt)], max_pixels)
    (rendition,) = result.renditions
    return result.source, rendition, images.decode(rendition.data)


@pytest.mark.parametrize(
    "fmt,params",
    [("JPEG", {}), ("PNG", {}), ("GIF", {}), ("BMP", {}), ("TIFF", {}), ("WEBP", {}),
     pytest.param("AVIF", {}, marks=pytest.mark.skipif(not AVIF_SUPPORTED, reason="no AVIF in Pillow"))],
)
def test_every_accepted_format_is_decoded_and_sized(fmt, params):
    data = images.encode(images.quadrants(400, 300), fmt, **params)
    source, rendition, out = one(data)
    assert (source.format, source.width, source.height) == (fmt, 400, 300)
    assert out.size == (rendition.width, rendition.height) == (200, 150)
    assert images.pixel_close(out.convert("RGB").getpixel((20, 20)), images.RED, 60)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(orientation, fmt):
    # TIFF: Pillow turns the picture itself on load; turning it again was wrong.
    source, rendition, out = one(images.oriented_jpeg(orientation, fmt=fmt), DEFAULT, "jpeg")
    assert (source.width, source.height) == (400, 300)
    assert out.size == (400, 300)
    assert images.pixel_close(out.getpixel((30, 30)), images.RED)
    assert images.pixel_close(out.getpixel((370, 270)), images.YELLOW)
    assert not out.getexif()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_real_orientation_samples(orientation):
    path = shared_corpus("public", "orientation", f"e12_exif_orientation_{orientation}.jpg")
    upright = Image.open(shared_corpus("public", "orientation", "e12_exif_orientation_1.jpg")).convert("L")
    upright.thumbnail((800, 600))
    source, rendition, out = one(path.read_bytes(), DEFAULT, "jpeg")
    assert out.size == upright.size
    # Same picture as the upright sample: mean absolute difference is small.
    diff = ImageStat.Stat(ImageChops.difference(out.convert("L"), upright)).mean[0]
    assert diff < 12


def test_fit_keeps_aspect_and_never_upscales():
    _, big, _ = one(images.jpeg(1600, 900), DEFAULT)
    assert (big.width, big.height) == (800, 450)
    _, small, _ = one(images.jpeg(300, 200), DEFAULT)
    assert (small.width, small.height) == (300, 200)


def test_cover_center_fills_the_box_and_crops_the_centre():
    _, rendition, out = one(images.jpeg(400, 200), CENTRED)
    assert out.size == (100, 100)
    # The centre crop of a 400x200 quadrant image keeps all four colours.
    assert images.pixel_close(out.getpixel((10, 10)), images.RED)
    assert images.pixel_close(out.getpixel((90, 90)), images.YELLOW)


def test_cover_does_not_upscale_a_small_image():
    _, rendition, _ = one(images.jpeg(80, 40), THUMB)
    assert (rendition.width, rendition.height) == (40, 40)


def test_large_jpeg_renditions_are_exact_when_decoded_at_reduced_scale():
    result = process_image(
        images.jpeg(4000, 3000),
        [(DEFAULT, "jpeg"), (RenditionSpec("large", 2048, 2048), "jpeg"), (THUMB, "webp")],
        LIMIT,
    )
    sizes = [(r.name, r.width, r.height) for r in result.renditions]
    assert sizes == [("default", 800, 600), ("large", 2048, 1536), ("thumb", 100, 100)]
    assert (result.source.width, result.source.height) == (4000, 3000)
    out = images.decode(result.renditions[0].data)
    assert images.pixel_close(out.getpixel((50, 50)), images.RED)
    assert images.pixel_close(out.getpixel((750, 550)), images.YELLOW)


def test_no_metadata_reaches_any_output():
    data = images.jpeg_with_metadata()
    result = process_image(data, [(SMALL, "jpeg"), (SMALL, "png"), (SMALL, "webp")], LIMIT)
    for rendition in result.renditions:
        out = images.decode(rendition.data)
        assert not out.getexif(), rendition.format
        assert "comment" not in out.info and "xmp" not in out.info and "exif" not in out.info
        for secret in (b"SecretCam", b"SECRET-COMMENT", b"SECRET-XMP", b"GPS"):
            assert secret not in rendition.data


def test_alpha_is_flattened_on_white_for_jpeg_and_kept_for_png_and_webp():
    data = images.png_with_alpha()
    result = process_image(data, [(SMALL, "jpeg"), (SMALL, "auto"), (SMALL, "webp")], LIMIT)
    jpeg, auto, webp = (images.decode(r.data) for r in result.renditions)
    assert jpeg.mode == "RGB"
    assert images.pixel_close(jpeg.getpixel((150, 50)), (255, 255, 255), 10)  # transparent → white
    assert images.pixel_close(jpeg.getpixel((20, 50)), (255, 0, 0), 10)
    assert result.renditions[1].format == "png" and auto.mode == "RGBA"
    assert auto.getpixel((150, 50))[3] == 0 and auto.getpixel((20, 50))[3] == 255
    assert webp.mode == "RGBA" and webp.getpixel((150, 50))[3] == 0


def test_opaque_alpha_channel_is_dropped_so_auto_picks_jpeg():
    data = images.encode(images.quadrants(mode="RGBA"), "PNG")
    _, rendition, out = one(data)
    assert rendition.format == "jpeg" and out.mode == "RGB"


def test_sixteen_bit_is_scaled_not_clipped():
    _, rendition, out = one(images.sixteen_bit_png(40000), fmt="png")
    assert out.mode == "L"
    assert abs(out.getpixel((10, 10)) - 40000 / 257) <= 1


def test_cmyk_becomes_rgb_with_the_right_colour():
    """Untagged CMYK goes through the shipped press profile (issue 19): 0/100/100/0
    is (232, 31, 42) in libvips and browsers, not the naive inversion's (255, 0, 0)."""
    _, rendition, out = one(images.cmyk_jpeg(), fmt="jpeg")
    assert out.mode == "RGB"
    assert images.pixel_close(out.getpixel((10, 10)), (232, 31, 42), 4)


def test_palette_with_transparency():
    _, rendition, out = one(images.palette_gif_with_transparency(), fmt="auto")
    assert rendition.format == "png" and out.mode == "RGBA"
    assert out.getpixel((10, 10))[3] == 0
    assert images.pixel_close(out.getpixel((90, 10)), (0, 0, 255, 255), 5)


def test_icc_profile_is_converted_and_not_embedded():
    _, rendition, out = one(images.srgb_tagged_png(), fmt="png")
    assert "icc_profile" not in out.info
    assert images.pixel_close(out.getpixel((20, 20)), images.RED, 3)


def test_real_icc_photo_is_converted_to_srgb():
    path = shared_corpus("photos", "M05_pillow_xmp_test_444_icc.jpg")
    original = Image.open(path)
    srgb = ImageCms.profileToProfile(
        original, ImageCms.ImageCmsProfile(io.BytesIO(original.info["icc_profile"])),
        ImageCms.createProfile("sRGB"), outputMode="RGB")
    _, rendition, out = one(path.read_bytes(), RenditionSpec("full", 10000, 10000), "png")
    assert "icc_profile" not in out.info
    assert out.size == srgb.size
    x, y = srgb.width // 2, srgb.height // 2
    assert images.pixel_close(out.getpixel((x, y)), srgb.getpixel((x, y)), 2)


def test_real_cmyk_photo_is_converted():
    path = shared_corpus("photos", "X01_sharp_CMYK_icc.jpg")
    _, rendition, out = one(path.read_bytes(), DEFAULT, "jpeg")
    assert out.mode == "RGB" and rendition.width <= 800


@pytest.mark.parametrize(
    "data,error",
    [
        (b"", errors.EmptyFileError),
        (b"hello, I am text pretending to be a jpeg\n" * 5, errors.UnsupportedFormatError),
        (b"<html><body>not an image</body></html>", errors.UnsupportedFormatError),
        (b"%PDF-1.4\n" + b"0" * 100, errors.UnsupportedFormatError),
        (b"8BPS\x00\x01" + b"\x00" * 100, errors.UnsupportedFormatError),  # PSD
        (images.png_declaring(100_000, 100_000), errors.TooManyPixelsError),
        (images.truncated(images.jpeg(800, 600)), errors.CorruptImageError),
        (images.truncated(images.encode(images.quadrants(), "PNG"), 0.6), errors.CorruptImageError),
        (images.jpeg()[:40], errors.CorruptImageError),
    ],
    ids=["empty", "text", "html", "pdf", "psd", "huge-png-header", "truncated-jpeg", "truncated-png", "jpeg-header-only"],
)
def test_bad_input_gets_a_reason_code(data, error):
    with pytest.raises(error) as info:
        process_image(data, [(DEFAULT, "source")], LIMIT)
    assert info.value.code == error.code and info.value.message


def test_pixel_limit_is_checked_before_decoding():
    with pytest.raises(errors.TooManyPixelsError):
        process_image(images.jpeg(400, 300), [(DEFAULT, "jpeg")], max_pixels=400 * 300 - 1)
    assert process_image(images.jpeg(400, 300), [(DEFAULT, "jpeg")], max_pixels=400 * 300).renditions


@pytest.mark.parametrize("path", ["e22_pngsuite_xcsn0g01_bad_idat_crc.png", "r10_pngsuite_xd0n2c08.png",
                                  "r10_pngsuite_xhdn0g08.png", "r10_pngsuite_xs1n0g01.png"])
def test_real_corrupt_pngs_are_refused(path):
    data = shared_corpus("public", "pngsuite", path).read_bytes()
    with pytest.raises(errors.ImageRejectedError):
        process_image(data, [(DEFAULT, "source")], LIMIT)


def test_sniffing_ignores_names_and_trusts_magic_numbers():
    assert sniff_format(images.jpeg()[:64]) == "JPEG"
    assert sniff_format(images.encode(images.quadrants(), "WEBP")[:64]) == "WEBP"
    assert sniff_format(b"GIF89a" + b"\0" * 20) == "GIF"
    assert sniff_format(b"<svg xmlns='http://www.w3.org/2000/svg'/>") is None


def test_source_format_is_kept_for_web_formats_and_made_web_safe_otherwise():
    cases = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp", "BMP": "jpeg", "TIFF": "jpeg", "GIF": "jpeg"}
    for fmt, expected in cases.items():
        data = images.encode(images.quadrants(), fmt)
        _, rendition, _ = one(data, DEFAULT, "source")
        assert rendition.format == expected, fmt


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from Linux's /proc")
def test_a_100_megapixel_png_stays_under_1_gib(tmp_path):
    """MAX_PIXELS' worst case, in a fresh process so its peak RSS is its own."""
    path = tmp_path / "big.png"
    images.write_big_png(path, 10_000, 10_000)
    script = textwrap.dedent(f"""
        from pathlib import Path
        from chalicelib.config import Settings
        from chalicelib.imaging import process_image, rendition_outputs

        outputs = rendition_outputs(Settings("in", "out", "table"))
        result = process_image(Path({str(path)!r}).read_bytes(), outputs, 100_000_000)
        assert result.source.width == 10_000 and len(result.renditions) == len(outputs)
        status = Path("/proc/self/status").read_text()
        print(int(status.split("VmHWM:")[1].split()[0]) // 1024)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) < 1024, f"peak RSS {done.stdout.strip()} MiB"


def test_importing_the_imaging_code_decodes_nothing():
    """No Pillow file is opened or loaded at import: the 3/8 JPEG self-test, once run
    there, waits for the first JPEG that could use it."""
    script = textwrap.dedent("""
        from PIL import ImageFile

        opened = []
        real_init, real_load = ImageFile.ImageFile.__init__, ImageFile.ImageFile.load
        ImageFile.ImageFile.__init__ = lambda self, *a, **k: opened.append("open") or real_init(self, *a, **k)
        ImageFile.ImageFile.load = lambda self: opened.append("load") or real_load(self)

        import chalicelib.imaging
        from chalicelib.imaging import decode
        print(opened, decode.three_eighths_works.cache_info().currsize)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "0"]


def subject_at_right(width: int = 1200, height: int = 600) -> bytes:
    """A flat grey picture with one skin-toned disc near its right edge."""
    picture = Image.new("RGB", (width, height), (128, 128, 128))
    ImageDraw.Draw(picture).ellipse((width - 250, height // 2 - 100, width - 50, height // 2 + 100),
                                    fill=(224, 172, 140))
    return images.encode(picture, "PNG")


def test_cover_crops_keep_the_most_interesting_part_by_default():
    _, _, out = one(subject_at_right(), THUMB, "png")
    assert out.size == (100, 100)
    # The disc spans x 950..1150 of 1200: a centre crop (300..900) would miss it entirely.
    assert images.pixel_close(out.getpixel((75, 50)), (224, 172, 140), 12)
    _, _, centred = one(subject_at_right(), CENTRED, "png")
    assert images.pixel_close(centred.getpixel((75, 50)), (128, 128, 128), 12)


@pytest.mark.parametrize("focus,expected", [((0.0, 0.5), (0, 0, 600, 600)), ((1.0, 0.5), (600, 0, 1200, 600))])
def test_a_focal_point_places_every_cover_crop(focus, expected):
    data = images.encode(images.quadrants(1200, 600), "PNG")
    result = process_image(data, [(THUMB, "png"), (CENTRED, "png")], LIMIT, focus=focus)
    kept, centred = (images.decode(r.data).convert("RGB") for r in result.renditions)
    reference = images.quadrants(1200, 600).crop(expected).resize((100, 100))
    assert images.pixel_close(kept.getpixel((20, 20)), reference.getpixel((20, 20)), 12)
    assert images.pixel_close(kept.getpixel((80, 80)), reference.getpixel((80, 80)), 12)
    middle = images.quadrants(1200, 600).crop((300, 0, 900, 600)).resize((100, 100))
    assert images.pixel_close(centred.getpixel((20, 20)), middle.getpixel((20, 20)), 12)
