"""Renditions compared with an independent reference (issue 19).

Every generated sample (tests/reference_images.py) and every file of
../shared/corpus/public goes through process_image with the default
outputs; each rendition is compared with libvips' rendering, or with the
generator's true pixels where libvips cannot show the file as a browser does
(tests/reference.py). Every class issue 19 names comes out right now; a new
class of wrong output fails here, it does not wait for someone to look.
"""

from pathlib import Path

import pytest

from chalicelib.config import load_settings
from chalicelib.errors import ImgpipeError
from chalicelib.imaging import process_image
from chalicelib.pipeline import rendition_outputs
from tests.conftest import SHARED
from tests.reference import Reference, compare, mean_difference, reference_frames, vips_frames
from tests.reference_images import Sample, samples

SETTINGS = load_settings({"INPUT_BUCKET": "i", "OUTPUT_BUCKET": "o", "STATUS_TABLE": "t"})
OUTPUTS = rendition_outputs(SETTINGS)
SAMPLES = samples()

# The classes issue 19 names, and what each came out as before it was fixed.
ISSUE_CLASSES = {
    "png-trns": "colour-keyed PNG lost its transparency (imaging/colour.py)",
    "bmp-alpha": "BI_RGB 32-bit BMP with a V5 alpha mask came out opaque (imaging/bmp.py)",
    "bmp-alphabitfields": "BI_ALPHABITFIELDS BMP was called damaged (imaging/bmp.py)",
    "bmp-bitfields": "BMP bitfields layouts Pillow lacks were called damaged (imaging/bmp.py)",
    "bmp-rle24": "RLE24 BMP was called damaged (imaging/bmp.py)",
    "bmp-2bit": "2-bit palette BMP was called damaged (imaging/bmp.py)",
    "tiff-float": "32-bit float RGB TIFF was called damaged (now unsupported_format, named)",
    "tiff-lab": "16-bit CIELab TIFF was called damaged (now unsupported_format, named)",
    "apng": "APNG came out as a still (decode.frame_count)",
    "animated-webp": "lossy animated WebP came out as a still (encode.encode_animated tries lossy)",
    "gif-screen": "GIF frames past the logical screen grew the canvas (imaging/gif.py)",
    "gif-short-frame": "GIF area no frame covers showed palette colour 0, not transparency (imaging/gif.py)",
    "cmyk-untagged": "untagged CMYK was inverted naively (colour.py: press profile)",
    "grey-icc": "greyscale ICC profile was ignored (colour.py)",
}
# Classes where a refusal as unsupported_format naming the feature is right too (the issue's
# "what remains undecodable is refused as unsupported_format with the feature named").
_MAY_BE_UNSUPPORTED = {"tiff-float": "floating-point RGB TIFF", "tiff-lab": "CIELab TIFF"}


def problems_of(data: bytes, reference: Reference, tolerance: float, feature: str | None = None) -> list[str]:
    """Every way the default outputs of `data` differ from `reference` (empty: right).
    A refusal is right only as unsupported_format naming `feature`, when given."""
    try:
        result = process_image(data, OUTPUTS, SETTINGS.max_pixels)
    except ImgpipeError as exc:
        if feature and exc.code == "unsupported_format" and feature in exc.message:
            return []
        return [f"refused as {exc.code}: {exc.message}"]
    animated = len(reference.frames) > 1
    found = []
    for (spec, _), rendition in zip(OUTPUTS, result.renditions):
        # The animation policy (README, Formats): `webp` outputs keep every frame.
        keeps_frames = animated if rendition.format == "webp" else None
        comparison = compare(rendition.data, rendition.format, spec, reference, tolerance, keeps_frames)
        found += [f"{spec.name} {rendition.format}: {p}" for p in comparison.problems]
    return found


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_generated_sample_comes_out_as_the_reference_shows_it(sample: Sample):
    reference = reference_frames(sample.data, sample.truth, trust_vips=sample.vips_agrees)
    if sample.kind == "cmyk-untagged" and reference.decoder != "libvips":
        pytest.skip("untagged CMYK has no reference but libvips', which is not available")
    found = problems_of(sample.data, reference, sample.tolerance, _MAY_BE_UNSUPPORTED.get(sample.kind))
    assert not found, f"{sample.name} ({reference.decoder} reference): " + "; ".join(found)


@pytest.mark.parametrize(
    "sample",
    # Not BMP (no loader in libvips; tests/test_bmp.py checks the BMP writer against Pillow) nor
    # untagged CMYK (its only truth is libvips').
    [s for s in SAMPLES if s.vips_agrees and not s.kind.startswith("bmp") and s.kind != "cmyk-untagged"],
    ids=lambda s: s.name,
)
def test_generated_truth_agrees_with_libvips(sample: Sample):
    """The harness checks itself: where libvips loads a sample it should show
    the generator's true pixels (untagged CMYK has no truth but libvips')."""
    frames = vips_frames(sample.data)
    if frames is None:
        pytest.skip(f"libvips has no loader for {sample.name}; the truth stands alone")
    assert len(frames) == len(sample.truth)
    for frame, truth in zip(frames, sample.truth):
        assert frame.size == truth.size
        assert _transparent(frame) == _transparent(truth)
        assert mean_difference(frame, truth) <= sample.tolerance


def _transparent(frame) -> bool:
    return frame.mode == "RGBA" and frame.getchannel("A").getextrema()[0] < 255


def test_every_issue_class_has_a_sample():
    assert set(ISSUE_CLASSES) <= {s.kind for s in SAMPLES}


def _public_files() -> list[Path]:
    root = SHARED / "public"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# PngSuite names its deliberately broken files x*: a refusal is right for them
# even where libvips, which skips CRC checks, shows something.
def _broken_on_purpose(path: Path) -> bool:
    return "pngsuite_x" in path.name


@pytest.mark.parametrize("path", _public_files() or [None], ids=lambda p: p.name if p else "absent")
def test_public_corpus_file_comes_out_as_libvips_shows_it(path: Path | None):
    if path is None:
        pytest.skip(f"{SHARED / 'public'} is absent (only the development checkout has ../shared)")
    data = path.read_bytes()
    if _broken_on_purpose(path):
        with pytest.raises(ImgpipeError) as refused:
            process_image(data, OUTPUTS, SETTINGS.max_pixels)
        assert refused.value.code in ("corrupt_image", "unsupported_format")
        return
    frames = vips_frames(data)
    if frames is None:
        pytest.skip(f"libvips cannot load {path.name}: no independent reference")
    found = problems_of(data, Reference(frames, "libvips"), tolerance=3.0)
    assert not found, f"{path.name}: " + "; ".join(found)
