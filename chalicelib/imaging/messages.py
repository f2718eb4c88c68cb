"""What a refusal says: sentences for a person, never Python's spelling.

- A valid TIFF Pillow cannot decode (32-bit floating-point RGB, 16-bit
  CIELab...) fails to open exactly as garbage does. `tiff_refusal` asks
  Pillow's TIFF plugin why; when the answer is a pixel layout or compression
  it lacks, `unsupported_feature` reads the first image file directory
  (classic or BigTIFF, every read bounds-checked) and names what the file is:
  "16-bit CIELab TIFF is not supported." instead of calling it damaged.
- `human` rewrites any message carrying Python's spelling of a value (`PNG
  chunk b'IDAT'`, `<_io.BytesIO object at 0x7f…>`, `'\\x00'`) into plain
  words: types.stage applies it to every refusal, as a backstop;
  `chunk_name` spells a four-byte chunk type for a sentence in the first place.
"""

import ast
import io
import re
import struct

from PIL import TiffImagePlugin

_PHOTOMETRIC = {
    0: "greyscale", 1: "greyscale", 2: "RGB", 3: "palette", 4: "mask", 5: "CMYK", 6: "YCbCr",
    8: "CIELab", 9: "ICC Lab", 10: "ITU Lab", 32844: "LogL", 32845: "LogLuv",
}
_SAMPLE_FORMAT = {
    1: "", 2: "signed ", 3: "floating-point ", 4: "", 5: "complex ", 6: "complex floating-point ",
}
_COMPRESSION = {6: "old-style JPEG", 34712: "JPEG 2000", 34887: "LERC", 50000: "Zstandard", 50001: "WebP",
                34925: "LZMA", 32809: "ThunderScan", 34676: "SGILog", 34677: "SGILog24"}
_TAGS = {258: "bits", 259: "compression", 262: "photometric", 277: "samples", 339: "sample_format"}
_TYPES = {3: ("H", 2), 4: ("I", 4), 16: ("Q", 8)}  # SHORT, LONG, LONG8
_MAX_ENTRIES = 4096


def _directory(data: bytes) -> dict[str, int] | None:
    if len(data) < 16 or data[:2] not in (b"II", b"MM"):
        return None
    order = "<" if data[:2] == b"II" else ">"
    (magic,) = struct.unpack_from(order + "H", data, 2)
    if magic == 42:
        (offset,) = struct.unpack_from(order + "I", data, 4)
        count_format, entry_size, value_at = "H", 12, 8
    elif magic == 43:
        (offset,) = struct.unpack_from(order + "Q", data, 8)
        count_format, entry_size, value_at = "Q", 20, 12
    else:
        return None
    count_size = struct.calcsize(count_format)
    if offset + count_size > len(data):
        return None
    (count,) = struct.unpack_from(order + count_format, data, offset)
    found: dict[str, int] = {}
    for i in range(min(count, _MAX_ENTRIES)):
        at = offset + count_size + i * entry_size
        if at + entry_size > len(data):
            break
        tag, kind = struct.unpack_from(order + "HH", data, at)
        if tag not in _TAGS or kind not in _TYPES:
            continue
        # The first value is inline when it fits; bits and sample format repeat per sample, the first will do.
        fmt, size = _TYPES[kind]
        (values,) = struct.unpack_from(order + ("I" if count_format == "H" else "Q"), data, at + 4)
        if values * size <= (4 if count_format == "H" else 8):
            (found[_TAGS[tag]],) = struct.unpack_from(order + fmt, data, at + value_at)
        else:
            pointer_format = "I" if count_format == "H" else "Q"
            (pointer,) = struct.unpack_from(order + pointer_format, data, at + value_at)
            if pointer + size <= len(data):
                (found[_TAGS[tag]],) = struct.unpack_from(order + fmt, data, pointer)
    return found


def unsupported_feature(data: bytes) -> str | None:
    """"16-bit CIELab TIFF is not supported." and the like, for a TIFF whose
    first directory is readable; None otherwise."""
    try:
        tags = _directory(data)
    except struct.error:
        return None
    if not tags or "photometric" not in tags:
        return None
    compression = _COMPRESSION.get(tags.get("compression", 1))
    if compression:
        return f"TIFF with {compression} compression is not supported."
    bits = tags.get("bits", 1)
    kind = _SAMPLE_FORMAT.get(tags.get("sample_format", 1), "")
    space = _PHOTOMETRIC.get(tags["photometric"], "unusual colour space")
    return f"{bits}-bit {kind}{space} TIFF is not supported."


# b'...' or b"..." with Python's escapes inside.
_BYTES_LITERAL = re.compile(r"""\bb(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")
_OBJECT_REPR = re.compile(r"<[^<>]*? object at 0x[0-9a-fA-F]+>")
_CLASS_REPR = re.compile(r"<class '(?:[\w.]+\.)?(\w+)'>")
_ADDRESS = re.compile(r"\s*\b(?:at )?0x[0-9a-fA-F]{6,}\b")
_ESCAPE = re.compile(r"\\x[0-9a-fA-F]{2}")


def chunk_name(kind: bytes) -> str:
    """A chunk/box type as a person reads it: 'IDAT', or its byte values when they are not letters."""
    if kind and all(0x20 < b < 0x7F for b in kind):
        return f"'{kind.decode('ascii')}'"
    return "of bytes " + " ".join(str(b) for b in kind) if kind else "without a name"


def _spell(literal: re.Match) -> str:
    try:
        value = ast.literal_eval(literal.group(0))
    except (ValueError, SyntaxError):
        return "an unreadable name"
    name = chunk_name(value)
    return name if name.startswith("'") else f"a name {name}"


def human(message: str) -> str:
    """`message` with Python's spellings replaced by words; plain text is returned as it is."""
    text = message.split("Traceback (most recent call last)", 1)[0].rstrip()
    text = _BYTES_LITERAL.sub(_spell, text)
    text = _OBJECT_REPR.sub("the file", text)
    text = _CLASS_REPR.sub(r"\1", text)
    text = _ADDRESS.sub("", text)
    text = _ESCAPE.sub("?", text)
    return text or "The file cannot be read."


def tiff_refusal(data: bytes) -> str | None:
    """The feature to name when Pillow's TIFF plugin reads the directory of
    `data` but lacks its pixel layout or compression; None when the file is
    damaged (or opens after all)."""
    try:
        TiffImagePlugin.TiffImageFile(io.BytesIO(data))
    except SyntaxError as exc:
        feature = unsupported_feature(data)
        if feature is None:
            return None
        if str(exc) == "unknown pixel mode":
            return feature
        # An unknown compression is a KeyError from the plugin's table.
        return feature if isinstance(exc.__cause__, KeyError) and feature.startswith("TIFF with") else None
    except Exception:  # any other failure: the bytes are broken, not unusual
        return None
    return None
