"""Refusal messages fit for a person: no bytes literals, reprs or addresses.

A decoder's or check's text can carry Python's spelling of a value
(`PNG chunk b'IDAT' runs past the end`, `<_io.BytesIO object at 0x7f…>`,
`'\\x00\\x01'`). `human` rewrites any such message into plain words;
`chunk_name` spells a four-byte chunk or box type for a sentence in the
first place. Pure string work, no imports beyond the standard library.
"""

import ast
import re

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
