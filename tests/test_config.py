"""config.py and renditions.py: parsing, defaults and clear errors."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.config import load_settings
from chalicelib.errors import ConfigError
from chalicelib.renditions import (
    COVER,
    FIT,
    RenditionSpec,
    default_rendition_key,
    parse_output_formats,
    parse_renditions,
    rendition_key,
)

BASE = {"INPUT_BUCKET": "in", "OUTPUT_BUCKET": "out", "STATUS_TABLE": "t"}


def test_defaults_match_the_contract():
    settings = load_settings(BASE)
    assert (settings.resize_width, settings.resize_height) == (800, 600)
    assert settings.max_upload_bytes == 52428800
    assert settings.max_pixels == 100_000_000
    assert settings.upload_url_ttl == 900
    assert settings.allowed_origins == ()
    assert [s.name for s in settings.renditions] == ["thumb", "medium", "large"]
    assert settings.output_formats == ("auto", "webp")


@pytest.mark.parametrize("missing", ["INPUT_BUCKET", "OUTPUT_BUCKET", "STATUS_TABLE"])
def test_required_variables_are_named_when_missing(missing):
    env = {k: v for k, v in BASE.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        load_settings(env)


@pytest.mark.parametrize(
    "name,value", [("RESIZE_WIDTH", "wide"), ("MAX_PIXELS", "0"), ("UPLOAD_URL_TTL", "-5"),
                   ("RENDITIONS", "thumb:320"), ("RENDITIONS", "a:10x10:stretch"),
                   ("RENDITIONS", "default:10x10"), ("RENDITIONS", "a:10x10,a:20x20"),
                   ("OUTPUT_FORMATS", "jpeg,gif"), ("OUTPUT_FORMATS", "jpeg,jpeg")],
)
def test_bad_values_fail_with_the_variable_name(name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings({**BASE, name: value})


def test_renditions_and_formats_parse():
    assert parse_renditions("thumb:320x320:cover, large:2048x2048") == (
        RenditionSpec("thumb", 320, 320, COVER), RenditionSpec("large", 2048, 2048, FIT))
    assert parse_renditions("") == ()
    assert parse_renditions("a:10x10:cover:center") == (RenditionSpec("a", 10, 10, COVER, centred=True),)
    for wrong in ("a:10x10:fit:center", "a:10x10:cover:middle", "a:10x10:center"):
        with pytest.raises(ConfigError, match="RENDITIONS"):
            parse_renditions(wrong)
    assert parse_output_formats("WebP, auto") == ("webp", "auto")
    assert load_settings({**BASE, "ALLOWED_ORIGINS": "https://a.example, https://b.example"}).allowed_origins == (
        "https://a.example", "https://b.example")


def test_output_keys_are_deterministic():
    assert default_rendition_key("image.jpg") == "processed-image.jpg"
    assert default_rendition_key("uploads/ab/cat photo.png") == "processed-uploads/ab/cat photo.png"
    assert rendition_key("uploads/ab/cat.png", "thumb", "webp") == "renditions/uploads/ab/cat.png/thumb.webp"
    assert rendition_key("a.png", "large", "jpeg") == "renditions/a.png/large.jpg"


def test_avif_output_without_avif_support_fails_at_cold_start(monkeypatch):
    """Not per image: the uploader's photo is not at fault."""
    import chalicelib.codecs as codecs

    monkeypatch.setattr(codecs, "AVIF_SUPPORTED", False)
    with pytest.raises(ConfigError, match="OUTPUT_FORMATS"):
        load_settings({**BASE, "OUTPUT_FORMATS": "jpeg,avif"})
    assert load_settings({**BASE, "OUTPUT_FORMATS": "jpeg,webp"}).output_formats == ("jpeg", "webp")


@pytest.mark.parametrize("value", ["https://d1.cloudfront.net", "d1.cloudfront.net/", "cdn", "a..b.net",
                                   "d1.cloudfront.net:443", "-a.example.net", "ünï.example"])
def test_cdn_domain_must_be_a_bare_host_name(value):
    with pytest.raises(ConfigError, match="CDN_DOMAIN"):
        load_settings({**BASE, "CDN_DOMAIN": value})


def test_cdn_domain_is_optional_and_case_insensitive():
    assert load_settings(BASE).cdn_domain == ""
    assert load_settings({**BASE, "CDN_DOMAIN": " D111.CloudFront.net "}).cdn_domain == "d111.cloudfront.net"


def test_the_api_function_starts_without_the_imaging_code():
    """app.py imports Pillow and the imaging modules in get_pipeline only: the API function,
    which never touches pixels, starts ~100 ms of CPU sooner (make bench-startup)."""
    code = ("import sys, app; print(sorted(m for m in sys.modules if m.startswith(('PIL.', 'pillow_heif'))"
            " or m in ('chalicelib.imaging', 'chalicelib.pipeline')))")
    env = {**os.environ, **BASE, "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['PIL._version']"  # find_spec("PIL._avif") loads the package, no more


def test_the_api_function_starts_without_the_resampler_or_webhook_code():
    """Nor the SIMD resampler (cykooz_resizer, chalicelib.resample, which import Pillow) nor
    the webhook sender (chalicelib.notify): the resize function loads them, the API never."""
    code = ("import sys, app; print(sorted(m for m in sys.modules if m.split('.')[0] == 'cykooz_resizer'"
            " or m in ('PIL.Image', 'chalicelib.resample', 'chalicelib.notify')))")
    env = {**os.environ, **BASE, "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
