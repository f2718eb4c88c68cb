"""chalicelib/variants.py: options, their canonical spelling, limits, Accept classes, keys, signatures."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib import variants as v
from chalicelib.errors import ConfigError, VariantForbiddenError
from chalicelib.variants import VariantLimits, VariantOptions, VariantOptionsError

SECRET = b"test-stage-secret"
IMAGE = "0123456789abcdef0123456789abcdef"


def test_canonical_drops_defaults_and_keeps_the_order():
    options = VariantOptions(width=640, height=360, fit="cover", gravity="smart", format="webp",
                             quality=70, dpr=2.0)
    assert v.canonical(options) == "w_640,h_360,fit_cover,g_smart,f_webp,q_70,dpr_2"
    assert v.canonical(VariantOptions(width=640)) == "w_640"
    assert v.canonical(VariantOptions(height=100, dpr=1.5)) == "h_100,dpr_1.5"


@pytest.mark.parametrize("text, canonical", [
    ("w_0640", "w_640"),
    ("f_webp,w_640", "w_640,f_webp"),
    ("w_640,fit_fit", "w_640"),
    ("w_640,f_auto", "w_640"),
    ("w_640,dpr_1", "w_640"),
    ("w_640,dpr_2.0", "w_640,dpr_2"),
    ("w_640,dpr_1.50", "w_640,dpr_1.5"),
    ("h_360,w_640,fit_cover", "w_640,h_360,fit_cover"),
    ("w_640,h_360,fit_cover,g_focus", "w_640,h_360,fit_cover"),
])
def test_a_non_canonical_spelling_is_refused_naming_the_canonical_one(text, canonical):
    with pytest.raises(VariantOptionsError) as caught:
        v.parse_options(text)
    assert f"'{canonical}'" in caught.value.message
    assert v.parse_options(canonical)  # which is accepted


@pytest.mark.parametrize("text, words", [
    ("", "width"),
    ("w_0", "from 1 to 8192"),
    ("w_8193", "from 1 to 8192"),
    ("h_99999", "from 1 to 8192"),
    ("w_640,q_0", "quality"),
    ("w_640,q_101", "quality"),
    ("w_640,dpr_0.5", "dpr"),
    ("w_640,dpr_3.5", "dpr"),
    ("w_640,dpr_x", "dpr"),
    ("w_640,fit_stretch", "fit"),
    ("w_640,f_gif", "format"),
    ("w_640,h_10,fit_cover,g_north", "gravity"),
    ("w_640,fit_cover", "needs both"),
    ("h_640,fit_fill", "needs both"),
    ("w_640,g_smart", "only to fit_cover"),
    ("w_640,w_640", "twice"),
    ("w_-1", "not an option"),
    ("width_640", "not an option"),
    ("w640", "not an option"),
    ("w_6.5", "whole number"),
    ("w_5000,dpr_2", "times dpr"),
    ("w_1" + ",w_1" * 60, "longer"),
])
def test_every_option_out_of_range_is_refused_with_a_sentence(text, words):
    with pytest.raises(VariantOptionsError) as caught:
        v.parse_options(text)
    assert words in caught.value.message
    assert caught.value.message.endswith(".")
    assert caught.value.code == "invalid_variant"


options_strategy = st.builds(
    VariantOptions,
    width=st.one_of(st.none(), st.integers(1, 2730)),
    height=st.one_of(st.none(), st.integers(1, 2730)),
    fit=st.sampled_from(v.FITS),
    gravity=st.sampled_from(v.GRAVITIES),
    format=st.sampled_from(v.FORMATS),
    quality=st.one_of(st.none(), st.integers(1, 100)),
    dpr=st.sampled_from([1.0, 1.25, 1.5, 2.0, 2.5, 3.0]),
)


def _valid(options: VariantOptions) -> bool:
    try:
        v.check_options(options)
    except VariantOptionsError:
        return False
    return True


@given(options_strategy)
def test_every_valid_set_of_options_round_trips_through_its_one_spelling(options):
    if not _valid(options):
        return
    text = v.canonical(options)
    assert v.parse_options(text) == options
    # Any reordering of two or more parts is refused.
    parts = text.split(",")
    if len(parts) > 1:
        with pytest.raises(VariantOptionsError):
            v.parse_options(",".join(reversed(parts)))


@given(st.text(alphabet="wfhqdprgitcov_0123456789.,", max_size=40))
def test_any_string_is_refused_with_a_sentence_or_is_canonical(text):
    try:
        options = v.parse_options(text)
    except VariantOptionsError as exc:
        assert exc.message and "Traceback" not in exc.message
    else:
        assert v.canonical(options) == text


def test_limits_bound_dpr_widths_and_pixels():
    limits = VariantLimits(max_pixels=1_000_000, max_dpr=2.0, widths=(320, 640))
    assert v.resolve("w_640", limits).width == 640
    with pytest.raises(VariantOptionsError, match="320, 640"):
        v.resolve("w_641", limits)
    with pytest.raises(VariantOptionsError, match="at most 2"):
        v.resolve("w_320,dpr_3", limits)
    with pytest.raises(VariantOptionsError, match="at most 1000000"):
        v.resolve("w_640,h_2000,fit_cover", limits)
    # A free side is checked once the source is known.
    options = v.resolve("w_640", limits)
    assert v.check_output(options, (1000, 1000), limits) == (640, 640)
    with pytest.raises(VariantOptionsError, match="pixels"):
        v.check_output(options, (1000, 4000), limits)


def test_presets_and_strict_mode():
    presets = v.parse_presets("card=w_640,h_360,fit_cover; thumb=w_160")
    strict = VariantLimits(presets=presets, strict=True)
    assert v.resolve("card", strict) == VariantOptions(width=640, height=360, fit="cover")
    with pytest.raises(VariantOptionsError, match="only its presets: card, thumb"):
        v.resolve("w_640", strict)
    with pytest.raises(VariantOptionsError, match="no preset named 'hero'"):
        v.resolve("hero", strict)
    assert v.resolve("w_640", VariantLimits(presets=presets)).width == 640
    for bad in ("card=w_0640", "Card=w_1", "card=w_1;card=w_2", "card=w_1,f_gif"):
        with pytest.raises(ConfigError):
            v.parse_presets(bad)
    assert v.parse_widths("640, 320,640") == (320, 640)
    with pytest.raises(ConfigError):
        v.parse_widths("0")


@pytest.mark.parametrize("accept, avif, expected", [
    ("image/avif,image/webp,image/apng,image/*,*/*;q=0.8", True, "avif"),
    ("image/avif,image/webp,*/*", False, "webp"),
    ("image/webp,*/*", True, "webp"),
    ("image/avif;q=0,image/webp", True, "webp"),
    ("image/avif;q=bad", True, "jpeg"),
    ("*/*", True, "jpeg"),
    ("", True, "jpeg"),
    (None, True, "jpeg"),
    ("IMAGE/WEBP", True, "webp"),
])
def test_auto_answers_per_accept_in_three_classes(accept, avif, expected):
    assert v.format_class(accept, avif) == expected


def test_keys_are_one_per_concrete_options():
    auto = v.parse_options("w_640")
    explicit = v.parse_options("w_640,f_webp")
    key = v.variant_key(IMAGE, "abc", v.concrete(auto, "image/webp"))
    assert key == f"variants/{IMAGE}/abc/w_640,f_webp.webp"
    assert key == v.variant_key(IMAGE, "abc", v.concrete(explicit, "image/avif"))
    assert v.variant_key(IMAGE, "abc", v.concrete(auto, "")).endswith("w_640,f_jpeg.jpg")
    assert key.startswith(v.variants_prefix(IMAGE))
    with pytest.raises(ValueError):
        v.variant_key(IMAGE, "abc", auto)
    assert v.source_version('"d41d8cd98f00b204e9800998ecf8427e-2"').isalnum()


@pytest.mark.parametrize("options, source, expected", [
    ("w_640", (4000, 3000), (640, 480)),
    ("w_640,dpr_2", (4000, 3000), (1280, 960)),
    ("w_640", (320, 240), (320, 240)),  # never upscaled
    ("w_640,h_100", (4000, 3000), (133, 100)),
    ("w_640,h_640,fit_cover", (4000, 3000), (640, 640)),
    ("w_640,h_640,fit_cover", (320, 240), (240, 240)),
    ("w_640,h_100,fit_fill", (4000, 3000), (640, 100)),
    ("w_800,h_100,fit_fill", (400, 3000), (400, 50)),
])
def test_output_size(options, source, expected):
    assert v.output_size(v.parse_options(options), source) == expected


def test_a_signature_signs_exactly_its_image_and_options():
    signature = v.sign(SECRET, IMAGE, "w_640")
    assert len(signature) == v.SIGNATURE_LENGTH and "=" not in signature
    v.verify(SECRET, signature, IMAGE, "w_640")
    assert v.variant_path(SECRET, IMAGE, "w_640") == f"/v/{signature}/{IMAGE}/w_640"
    forged = [
        (signature, IMAGE, "w_641"),  # replayed with other options
        (signature, IMAGE, "w_640,f_webp"),
        (signature, "f" * 32, "w_640"),  # on another image
        (signature[:-1], IMAGE, "w_640"),  # truncated
        (signature[:22], IMAGE, "w_640"),
        (signature + "A", IMAGE, "w_640"),
        ("", IMAGE, "w_640"),
        (("B" if signature[0] != "B" else "C") + signature[1:], IMAGE, "w_640"),  # one character off
        (v.sign(b"another-stage", IMAGE, "w_640"), IMAGE, "w_640"),  # another stage's secret
        (signature.replace("-", "+").replace("_", "/") + "=", IMAGE, "w_640"),
    ]
    for sig, image_id, segment in forged:
        if (sig, image_id, segment) == (signature, IMAGE, "w_640"):
            continue
        with pytest.raises(VariantForbiddenError):
            v.verify(SECRET, sig, image_id, segment)


@given(st.text(max_size=40), st.text(max_size=40))
def test_a_signature_never_verifies_for_other_options(first, second):
    if first == second:
        return
    with pytest.raises(VariantForbiddenError):
        v.verify(SECRET, v.sign(SECRET, IMAGE, first), IMAGE, second)


def test_the_stage_settings():
    from chalicelib.config import load_settings

    base = {"INPUT_BUCKET": "in", "OUTPUT_BUCKET": "out", "STATUS_TABLE": "t"}
    assert load_settings(base).variant_limits == VariantLimits()
    settings = load_settings({**base, "VARIANT_MAX_DPR": "2.5", "VARIANT_WIDTHS": "320,640",
                              "VARIANT_PRESETS": "card=w_640", "VARIANT_STRICT": "true",
                              "VARIANT_MAX_PIXELS": "4000000", "VARIANT_SECRET_ARN": "imgpipe/variants"})
    assert settings.variant_limits == VariantLimits(4_000_000, 2.5, (320, 640), (("card", "w_640"),), True)
    assert settings.variant_secret_arn == "imgpipe/variants"
    for name, bad in (("VARIANT_MAX_DPR", "4"), ("VARIANT_MAX_DPR", "2.0x"), ("VARIANT_WIDTHS", "a")):
        with pytest.raises(ConfigError, match=name):
            load_settings({**base, name: bad})


@pytest.mark.parametrize("body, segment", [
    ({"width": 640, "format": "auto"}, "w_640"),
    ({"width": 640, "height": 360, "fit": "cover", "gravity": "smart", "format": "webp", "quality": 70,
      "dpr": 2}, "w_640,h_360,fit_cover,g_smart,f_webp,q_70,dpr_2"),
    ({"height": 100, "dpr": 1.5}, "h_100,dpr_1.5"),
    ({"preset": "card"}, "card"),
])
def test_a_json_body_becomes_the_canonical_segment(body, segment):
    assert v.options_from_body(body) == segment


@pytest.mark.parametrize("body", [
    [], "w_640", {}, {"width": "640"}, {"width": True}, {"width": 0}, {"width": 10**100}, {"dpr": 10**400},
    {"width": 1, "dpr": float("nan")}, {"width": 1, "dpr": 1.0001}, {"width": 1, "fit": "stretch"},
    {"width": 1, "colour": "red"}, {"preset": "card", "width": 1}, {"preset": 3}, {"width": 1, "fit": None},
])
def test_a_bad_json_body_is_refused_with_a_sentence(body):
    from chalicelib.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError) as caught:
        v.options_from_body(body)
    assert caught.value.message.endswith(".")


def test_the_javascript_snippet_in_the_docs_signs_as_the_server_does():
    """docs/VARIANTS.md's verification snippet, run by Node when the machine has it."""
    import re
    import shutil
    import subprocess
    from pathlib import Path

    node = shutil.which("node")
    if node is None:
        pytest.skip("no node on this machine")
    text = (Path(__file__).resolve().parents[1] / "docs" / "VARIANTS.md").read_text("utf-8")
    snippet = re.search(r"```js\n(.*?)```", text, re.DOTALL)[1]
    script = snippet + (f'\nconst s = signVariant("{SECRET.decode()}", "{IMAGE}", "w_640,f_webp");'
                        f'\nconsole.log(s, verifyVariant("{SECRET.decode()}", s, "{IMAGE}", "w_640,f_webp"),'
                        f' verifyVariant("{SECRET.decode()}", s, "{IMAGE}", "w_641,f_webp"));')
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=30, check=True).stdout
    assert out.split() == [v.sign(SECRET, IMAGE, "w_640,f_webp"), "true", "false"]
