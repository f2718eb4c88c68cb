"""Refusals are sentences for a person (issue 19, section 6): chalicelib/imaging/messages.py
and every refusal of the hostile corpus."""

import re

import pytest

from chalicelib.config import load_settings
from chalicelib.errors import ImgpipeError
from chalicelib.imaging import process_image
from chalicelib.imaging.messages import chunk_name, human
from chalicelib.pipeline import rendition_outputs
from tests import hostile

# Python's spellings of values: bytes literals, escapes, object and class reprs, addresses, tracebacks.
PYTHON_SPELLING = re.compile(
    r"""\bb'|\bb"|\\x[0-9a-fA-F]{2}|<[^<>]*object at|<class '|0x[0-9a-fA-F]+|Traceback"""
)

SETTINGS = load_settings({"INPUT_BUCKET": "i", "OUTPUT_BUCKET": "o", "STATUS_TABLE": "t"})
REFUSED = [(name, data) for name, data, expected in hostile.cases() if expected != hostile.COMPLETE]


@pytest.mark.parametrize(
    "raw,wanted",
    [
        ("PNG chunk b'IDAT' runs past the end of the file.",
         "PNG chunk 'IDAT' runs past the end of the file."),
        ('PNG chunk b"tEXt" fails its CRC check.', "PNG chunk 'tEXt' fails its CRC check."),
        ("PNG chunk b'\\x00\\x01ab' runs past the end.",
         "PNG chunk a name of bytes 0 1 97 98 runs past the end."),
        ("cannot identify image file <_io.BytesIO object at 0x7f17c7bd0e00>",
         "cannot identify image file the file"),
        ("unknown decoder <class 'PIL.ImageFile.PyDecoder'>", "unknown decoder PyDecoder"),
        ("broken data stream when reading image file\nTraceback (most recent call last):\n  File",
         "broken data stream when reading image file"),
        ("The BMP file cannot be read.", "The BMP file cannot be read."),
        ("", "The file cannot be read."),
    ],
)
def test_human_spells_python_values_in_words(raw, wanted):
    assert human(raw) == wanted
    assert not PYTHON_SPELLING.search(human(raw))


def test_chunk_names():
    assert chunk_name(b"IDAT") == "'IDAT'"
    assert chunk_name(b"\x00\xffAB") == "of bytes 0 255 65 66"
    assert chunk_name(b"") == "without a name"


def _refusal(data: bytes) -> ImgpipeError:
    try:
        process_image(data, rendition_outputs(SETTINGS), SETTINGS.max_pixels)
    except ImgpipeError as exc:
        return exc
    raise AssertionError("expected a refusal")


def test_no_refusal_of_the_hostile_corpus_shows_python_spelling():
    shown = {name: _refusal(data).message for name, data in REFUSED}
    spelled = {name: message for name, message in shown.items() if PYTHON_SPELLING.search(message)}
    assert not spelled


def test_human_fixes_every_refusal_of_the_hostile_corpus():
    """What the wiring will give: every message through human() reads as words."""
    for name, data in REFUSED:
        message = human(_refusal(data).message)
        assert not PYTHON_SPELLING.search(message), (name, message)
        assert message.endswith("."), (name, message)


def test_every_refusal_is_worded_on_its_way_out(monkeypatch):
    """types.stage is the backstop: a refusal raised anywhere in process_image with
    Python's spelling in it reaches the record in words."""
    from chalicelib.errors import CorruptImageError
    from chalicelib.imaging import plan

    def refuse(*args):
        raise CorruptImageError("PNG chunk b'IDAT' runs past the end of the file.")

    monkeypatch.setattr(plan, "open_image", refuse)
    with pytest.raises(CorruptImageError) as refused:
        process_image(b"\x89PNG", rendition_outputs(SETTINGS), SETTINGS.max_pixels)
    assert refused.value.message == str(refused.value) == "PNG chunk 'IDAT' runs past the end of the file."
