"""Image ids, upload keys and the validation of an upload request.

The API issues `uploads/{image_id}/{sanitised filename}`: the client never
chooses the key. Objects put straight into the bucket get an id derived from
their key, so every event for the same key lands on the same record.
"""

import hashlib
import importlib.util
import math
import re
import unicodedata
import uuid

from chalicelib.callbacks import check_callback_url
from chalicelib.errors import (
    EmptyFileError,
    FileTooLargeError,
    InvalidRequestError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)
from chalicelib.limits import check_size

IMAGE_ID = re.compile(r"^[0-9a-f]{32}$")
_UPLOAD_KEY = re.compile(r"^uploads/(?P<id>[0-9a-f]{32})/[^/]+$")
_UNSAFE = re.compile(r"[^\w .+()\-]+")
_MAX_FILENAME_BYTES = 200
_MAX_FILENAME_CHARS = 1024
# Exactly the filenames sanitize_filename accepts (docs/openapi.yaml has the same
# pattern): no control character anywhere, and after the last / or \ something
# other than ASCII punctuation and spaces (a letter, a digit, any non-ASCII).
# ASCII-only classes, so Python's re (with fullmatch) and ECMA validators agree.
_CONTROL = r"\x00-\x1f\x7f-\x9f"
FILENAME_PATTERN = rf"^[^{_CONTROL}]*[^\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x9f][^{_CONTROL}/\\]*$"

ALLOWED_CONTENT_TYPES = frozenset(
    ["image/jpeg", "image/png", "image/gif", "image/bmp", "image/tiff", "image/webp"]
    + ["image/heic", "image/heif"]
    # Pillow's AVIF module is present (not imported: the API never loads Pillow).
    + (["image/avif"] if importlib.util.find_spec("PIL._avif") else [])
)


# What a browser or a CLI sends when it cannot name a file's type (an MPO, a HEIC outside
# Apple's browsers): the type is then judged by the filename's extension. The pipeline
# sniffs the bytes in any case; this only decides whether the upload is issued.
GENERIC_CONTENT_TYPES = frozenset(["", "application/octet-stream", "binary/octet-stream"])
CONTENT_TYPE_BY_EXTENSION = {
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "jpe": "image/jpeg", "jfif": "image/jpeg",
    "mpo": "image/jpeg",  # a multi-picture JPEG, as many cameras write
    "png": "image/png", "gif": "image/gif", "bmp": "image/bmp", "tif": "image/tiff", "tiff": "image/tiff",
    "webp": "image/webp", "heic": "image/heic", "heif": "image/heif", "avif": "image/avif",
}


def new_image_id() -> str:
    return uuid.uuid4().hex


def upload_key(image_id: str, filename: str) -> str:
    return f"uploads/{image_id}/{filename}"


def image_id_for_key(key: str) -> str:
    """The id an object's record has: from an API key, or a hash of the key."""
    match = _UPLOAD_KEY.match(key)
    if match:
        return match["id"]
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def is_upload_key(key: str) -> bool:
    """Whether the API issued this key: one image's, never to be reused."""
    return _UPLOAD_KEY.match(key) is not None


def check_image_id(image_id: str) -> str:
    if not IMAGE_ID.match(image_id):
        raise InvalidRequestError("image_id must be 32 lowercase hex characters")
    return image_id


def sanitize_filename(name: object) -> str:
    """A filename safe as the last segment of an S3 key and in a URL.

    Keeps letters of any script, digits, space and `.+()-_` (anything else,
    lone surrogates too, becomes `_`); drops any path the browser or an
    attacker put in front; refuses names that leave only punctuation, and
    control characters.
    """
    if not isinstance(name, str) or not 1 <= len(name) <= _MAX_FILENAME_CHARS:
        raise InvalidRequestError(f"filename must be a string of 1 to {_MAX_FILENAME_CHARS} characters")
    if not re.fullmatch(FILENAME_PATTERN, name):  # fullmatch: `$` as ECMA reads it, not before a final \n
        raise InvalidRequestError("filename needs a letter or digit, and no control characters")
    base = re.split(r"[/\\]", unicodedata.normalize("NFC", name))[-1]
    clean = _UNSAFE.sub("_", base).strip(" .")
    while len(clean.encode("utf-8")) > _MAX_FILENAME_BYTES:
        stem, dot, ext = clean.rpartition(".")
        clean = (stem[:-1] + dot + ext) if dot and stem else clean[:-1]
    return clean


_FOCUS_SHAPE = 'focus must be an object like {"x": 0.5, "y": 0.3}, each a number from 0 to 1'


def validate_focus(value: object) -> dict[str, float]:
    """{"x", "y"}, each a finite number in 0..1 (of the upright picture's width and height)."""
    if not isinstance(value, dict) or set(value) != {"x", "y"}:
        raise InvalidRequestError(_FOCUS_SHAPE)
    point = {}
    for axis in ("x", "y"):
        number = value[axis]
        # bool is an int to Python, and JSON's NaN/Infinity extensions parse to floats.
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
            raise InvalidRequestError(_FOCUS_SHAPE)
        if not 0 <= number <= 1:
            raise InvalidRequestError(f"focus {axis} must be from 0 to 1")
        # A millionth of the picture is finer than any pixel; DynamoDB stores no number under 1e-130.
        point[axis] = round(float(number), 6)
    return point


def validate_focus_request(body: object) -> dict[str, float]:
    """The focus of a PATCH /images/{id} body, or a 400."""
    if not isinstance(body, dict) or set(body) != {"focus"}:
        raise InvalidRequestError('body must be a JSON object like {"focus": {"x": 0.5, "y": 0.3}}')
    return validate_focus(body["focus"])


def validate_upload_request(
    body: object, max_bytes: int, allow_local_callbacks: bool = False
) -> tuple[str, str, int | None]:
    """(filename, content_type, size) from a POST /uploads body, or a 4xx error.
    The optional `focus` and `callback_url` are checked too (upload_focus() returns the
    focus; `allow_local_callbacks` is UNSAFE_LOCAL_WEBHOOKS, see callbacks.check_callback_url)."""
    if not isinstance(body, dict):
        raise InvalidRequestError('body must be a JSON object like {"filename": "a.jpg", "content_type": "image/jpeg"}')
    unknown = set(body) - {"filename", "content_type", "size", "focus", "callback_url"}
    if unknown:
        raise InvalidRequestError(f"unknown fields: {', '.join(sorted(unknown))}")
    filename = sanitize_filename(body.get("filename"))
    content_type = body.get("content_type")
    if not isinstance(content_type, str):
        raise InvalidRequestError("content_type must be a string such as image/jpeg")
    if content_type in GENERIC_CONTENT_TYPES:
        content_type = CONTENT_TYPE_BY_EXTENSION.get(filename.rpartition(".")[2].lower(), content_type)
    if not content_type:
        raise InvalidRequestError("content_type must be a string such as image/jpeg")
    if content_type not in ALLOWED_CONTENT_TYPES:  # exactly as listed: the spec's enum
        raise UnsupportedMediaTypeError(
            f"{content_type[:100]} is not accepted; use one of {', '.join(sorted(ALLOWED_CONTENT_TYPES))}"
        )
    size = body.get("size")
    if "size" in body:  # given, it must be a size: null is no size
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InvalidRequestError("size must be a whole number of bytes")
        try:
            check_size(size, max_bytes)
        except EmptyFileError:
            raise InvalidRequestError("the file is empty") from None
        except FileTooLargeError:
            raise PayloadTooLargeError(f"{size} bytes is over the {max_bytes}-byte limit") from None
    upload_focus(body)
    if "callback_url" in body:  # given, it must be a URL: null is none
        check_callback_url(body["callback_url"], allow_local_callbacks)
    return filename, content_type, size


def upload_focus(body: dict) -> dict[str, float] | None:
    """The optional `focus` of a POST /uploads body (a dict already checked for its fields)."""
    return validate_focus(body["focus"]) if "focus" in body else None
