"""Which feature of a valid TIFF Pillow cannot decode, in words.

Pillow decodes the common TIFF layouts but not, for instance, 32-bit
floating-point RGB or 16-bit CIELab; it raises the same error for those as
for garbage. After Pillow refuses a TIFF, `unsupported_feature` reads the
first image file directory (classic or BigTIFF, every read bounds-checked)
and names what the file is, so the refusal says "16-bit CIELab TIFF is not
supported." instead of calling a valid file damaged. None: no readable
directory, so the file is damaged after all.
"""

import struct

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
