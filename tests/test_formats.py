"""imaging.py's formats: HEIC in, AVIF out, the animation policy, placeholders,
and how the pipeline records frames and placeholders."""

import pytest
from PIL import Image, ImageSequence

from chalicelib.codecs import AVIF_SUPPORTED
from chalicelib.config import Settings
from chalicelib.imaging import MAX_ANIMATION_FRAMES, process_image
from chalicelib.imaging.decode import sniff_format
from chalicelib.pipeline import ImagePipeline
from chalicelib.renditions import COVER, RenditionSpec
from chalicelib.status import Claim
from chalicelib.storage import ObjectInfo
from tests import images

SMALL = RenditionSpec("small", 200, 200)
THUMB = RenditionSpec("thumb", 60, 60, COVER)
LIMIT = 100_000_000


def test_heic_is_sniffed_decoded_and_written_as_jpeg():
    data = images.heic()
    assert sniff_format(data[:64]) == "HEIF"
    result = process_image(data, [(SMALL, "source"), (SMALL, "webp")], LIMIT)
    assert (result.source.format, result.source.width, result.source.height) == ("HEIF", 400, 300)
    jpeg, webp = result.renditions
    assert jpeg.format == "jpeg" and webp.format == "webp"
    for rendition in result.renditions:
        out = images.decode(rendition.data)
        assert out.size == (200, 150)
        assert images.pixel_close(out.convert("RGB").getpixel((20, 20)), images.RED, 40)
        assert images.pixel_close(out.convert("RGB").getpixel((180, 130)), images.YELLOW, 40)


def test_heic_rotation_is_applied_once():
    # Orientation 6 shows the stored picture turned 90° clockwise: the
    # bottom-left (blue) quadrant ends up top-left.
    result = process_image(images.heic(orientation=6), [(SMALL, "jpeg")], LIMIT)
    assert (result.source.width, result.source.height) == (300, 400)
    out = images.decode(result.renditions[0].data)
    assert out.size == (150, 200)
    assert images.pixel_close(out.getpixel((15, 15)), images.BLUE, 40)
    assert images.pixel_close(out.getpixel((135, 185)), images.GREEN, 40)


@pytest.mark.parametrize("brand", [b"heic", b"heix", b"mif1", b"msf1"])
def test_heif_brands_are_recognised(brand):
    head = b"\x00\x00\x00\x14ftyp" + brand + b"\x00\x00\x00\x00" + brand
    assert sniff_format(head) == "HEIF"


def test_avif_brand_wins_over_mif1():
    head = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf"
    assert sniff_format(head) == ("AVIF" if AVIF_SUPPORTED else None)


@pytest.mark.skipif(not AVIF_SUPPORTED, reason="this Pillow has no AVIF encoder")
def test_avif_output_decodes():
    result = process_image(images.jpeg(400, 300), [(SMALL, "avif")], LIMIT)
    (rendition,) = result.renditions
    out = images.decode(rendition.data)
    assert rendition.format == "avif" and rendition.content_type == "image/avif"
    assert out.format == "AVIF" and out.size == (200, 150)
    assert images.pixel_close(out.convert("RGB").getpixel((20, 20)), images.RED, 40)


def test_every_output_format_from_one_decode():
    formats = ["jpeg", "png", "webp", "auto"] + (["avif"] if AVIF_SUPPORTED else [])
    result = process_image(images.jpeg(800, 600), [(SMALL, f) for f in formats], LIMIT)
    for fmt, rendition in zip(formats, result.renditions):
        out = images.decode(rendition.data)
        assert out.format == {"auto": "JPEG"}.get(fmt, fmt.upper())
        assert out.size == (200, 150)


def frames_of(data: bytes) -> list[Image.Image]:
    return [frame.convert("RGB") for frame in ImageSequence.Iterator(images.decode(data))]


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animation_is_kept_as_animated_webp(fmt):
    data = images.animation(fmt, frames=4)
    outputs = [(SMALL, "source"), (THUMB, "webp"), (SMALL, "jpeg"), (THUMB, "auto")]
    result = process_image(data, outputs, LIMIT)
    assert result.source.frames == 4
    default, thumb, still, auto = result.renditions
    for rendition, size in ((default, (120, 90)), (thumb, (60, 60))):
        assert (rendition.format, rendition.frames, rendition.width, rendition.height) == ("webp", 4, *size)
        out = images.decode(rendition.data)
        assert out.n_frames == 4
        for n, frame in enumerate(frames_of(rendition.data)):
            assert frame.size == size
            assert images.pixel_close(frame.getpixel((10, 10)), images.FRAME_COLOURS[n % 3], 30)
    assert images.decode(default.data).info.get("duration") == 50  # frame 0's timing is kept
    # JPEG cannot animate, and `auto` is the still beside `webp`: the first frame.
    for rendition in (still, auto):
        assert (rendition.format, rendition.frames) == ("jpeg", 1)
        assert images.pixel_close(images.decode(rendition.data).getpixel((10, 10)), images.RED, 30)


def test_too_many_frames_fall_back_to_the_first_frame():
    data = images.animation("GIF", frames=MAX_ANIMATION_FRAMES + 1, size=(20, 20))
    result = process_image(data, [(SMALL, "webp")], LIMIT)
    (rendition,) = result.renditions
    assert result.source.frames == MAX_ANIMATION_FRAMES + 1
    assert rendition.frames == 1 and images.decode(rendition.data).n_frames == 1
    assert images.pixel_close(frames_of(rendition.data)[0].getpixel((5, 5)), images.RED, 30)


def test_frames_count_against_the_pixel_budget():
    data = images.animation("GIF", frames=5, size=(100, 100))
    within = process_image(data, [(SMALL, "webp")], max_pixels=5 * 100 * 100)
    assert within.renditions[0].frames == 5
    over = process_image(data, [(SMALL, "webp")], max_pixels=5 * 100 * 100 - 1)
    assert over.renditions[0].frames == 1  # first frame only: it alone is within the limit


def test_placeholder_is_a_blurhash_and_the_dominant_colour():
    picture = Image.new("RGB", (400, 300), (20, 60, 200))
    picture.paste((230, 230, 20), (0, 0, 100, 100))  # a small yellow corner on blue
    result = process_image(images.encode(picture, "PNG"), [(SMALL, "jpeg"), (THUMB, "webp")], LIMIT)
    placeholder = result.placeholder
    assert images.pixel_close(bytes.fromhex(placeholder.dominant_color[1:]), (20, 60, 200), 8)
    # 4×3 components (landscape): 1 + 1 + 4 + 2 × 11 characters of base 83.
    assert len(placeholder.blurhash) == 28 and placeholder.blurhash[0] == "L"
    portrait = process_image(images.encode(picture.rotate(90, expand=True), "PNG"), [(SMALL, "png")], LIMIT)
    assert portrait.placeholder.blurhash[0] == "T"  # 3×4 components


def test_blurhash_of_a_flat_colour_matches_the_reference_encoder():
    # The value the reference encoder (PyPI `blurhash` 1.1.5, a port of
    # woltapp/blurhash) gives for a 32×24 red image; it was also checked to
    # agree on real photos. Its basis is cos(pi·i·x/w), so even a flat image
    # has some AC energy.
    flat = images.encode(Image.new("RGB", (64, 48), (255, 0, 0)), "PNG")
    result = process_image(flat, [(SMALL, "png")], LIMIT)
    assert result.placeholder.blurhash == "LDTI:j]9fQ]9|co1fQo1fQfQfQfQ"
    assert result.placeholder.dominant_color == "#ff0000"


class FakeStorage:
    """Just enough of S3Storage for ImagePipeline: one source object in memory."""

    input_bucket = "in"

    def __init__(self, key: str, data: bytes) -> None:
        self.info = ObjectInfo(key, len(data), "etag-1", "image/gif")
        self.data = data
        self.written: dict[str, bytes] = {}

    def source_info(self, key):
        return self.info if key == self.info.key else None

    def read_source(self, info, limit):
        return self.data

    def write_rendition(self, key, data, content_type):
        self.written[key] = data


class FakeStore:
    """Just enough of DynamoStatusStore: records what `complete` was given."""

    def claim(self, image_id, source, now_iso, now, lease):
        return Claim(image_id, "token", 1)

    def complete(self, claim, source, renditions, now):
        self.source, self.renditions = source, renditions
        return True


def test_the_record_carries_frames_and_the_placeholder():
    storage, store = FakeStorage("anim.gif", images.animation("GIF", frames=3)), FakeStore()
    pipeline = ImagePipeline(Settings("in", "out", "table"), storage, store)
    assert pipeline.process_object("anim.gif").result == "COMPLETE"
    assert store.source["frames"] == 3
    placeholder = store.source["placeholder"]
    assert len(placeholder["blurhash"]) == 28 and placeholder["dominant_color"] == "#dc1414"
    by_name = {(r["name"], r["format"]): r for r in store.renditions}
    assert len(by_name) == len(store.renditions) == 7
    assert {r["key"] for r in store.renditions} == set(storage.written)  # every entry's object exists
    assert by_name["default", "webp"]["key"] == "processed-anim.gif.webp"  # the key says WebP
    assert by_name["default", "webp"]["frames"] == 3
    assert by_name["thumb", "webp"]["key"] == "renditions/anim.gif/thumb.webp"
    assert by_name["thumb", "webp"]["frames"] == 3
    assert "frames" not in by_name["thumb", "jpeg"]
    # 120×90 fits medium and large unchanged: the same animation as `default`, stored once.
    assert by_name["medium", "webp"]["key"] == by_name["large", "webp"]["key"] == "processed-anim.gif.webp"


@pytest.mark.parametrize("key, data, fmt, expected", [
    ("photo.heic", images.heic(), "JPEG", "processed-photo.heic.jpg"),
    ("scan.tiff", images.encode(images.quadrants(), "TIFF"), "JPEG", "processed-scan.tiff.jpg"),
    ("anim.png", images.animation("PNG", frames=3), "WEBP", "processed-anim.png.webp"),
    ("image.jpg", images.jpeg(), "JPEG", "processed-image.jpg"),  # the contract: unchanged
    ("IMAGE.JPEG", images.jpeg(), "JPEG", "processed-IMAGE.JPEG"),
])
def test_the_default_key_says_the_format_it_holds(key, data, fmt, expected):
    storage, store = FakeStorage(key, data), FakeStore()
    pipeline = ImagePipeline(Settings("in", "out", "table", renditions=()), storage, store)
    assert pipeline.process_object(key).result == "COMPLETE"
    [default] = store.renditions
    assert default["key"] == expected and list(storage.written) == [expected]
    assert images.decode(storage.written[expected]).format == fmt
