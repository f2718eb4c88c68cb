"""uploads.py: ids, keys, filenames and the POST /uploads body."""

import pytest

from chalicelib.errors import InvalidRequestError, PayloadTooLargeError, UnsupportedMediaTypeError
from chalicelib.uploads import (
    check_image_id,
    image_id_for_key,
    new_image_id,
    sanitize_filename,
    upload_key,
    validate_upload_request,
)


@pytest.mark.parametrize(
    "given,expected",
    [
        ("photo.jpg", "photo.jpg"),
        ("My Holiday (1).JPG", "My Holiday (1).JPG"),
        ("C:\\Users\\ann\\Pictures\\cat.png", "cat.png"),
        ("../../etc/passwd.jpg", "passwd.jpg"),
        ("résumé photo+1.jpg", "résumé photo+1.jpg"),
        ("東京 タワー.jpeg", "東京 タワー.jpeg"),
        ("a<b>c|d?.png", "a_b_c_d_.png"),
        ("..hidden.jpg", "hidden.jpg"),
    ],
)
def test_filenames_are_sanitised(given, expected):
    assert sanitize_filename(given) == expected


@pytest.mark.parametrize("bad", [None, 42, "", "   ", "..", "/", "a\x00b.jpg", "x" * 2000, "???"])
def test_odd_filenames_are_refused(bad):
    with pytest.raises(InvalidRequestError):
        sanitize_filename(bad)


def test_long_filenames_are_shortened_keeping_the_extension():
    name = sanitize_filename("é" * 300 + ".jpg")
    assert name.endswith(".jpg") and len(name.encode()) <= 200


def test_keys_and_ids_round_trip():
    image_id = new_image_id()
    assert check_image_id(image_id) == image_id
    assert image_id_for_key(upload_key(image_id, "a b.jpg")) == image_id
    # Objects put straight into the bucket get a stable id from their key.
    assert image_id_for_key("holiday/a.jpg") == image_id_for_key("holiday/a.jpg")
    assert image_id_for_key("holiday/a.jpg") != image_id_for_key("holiday/b.jpg")
    check_image_id(image_id_for_key("holiday/a.jpg"))
    for bad in ("../x", "ABC", "0" * 31, "0" * 33, "g" * 32):
        with pytest.raises(InvalidRequestError):
            check_image_id(bad)


def test_upload_request_validation():
    assert validate_upload_request({"filename": "a.jpg", "content_type": "IMAGE/JPEG", "size": 10}, 100) == (
        "a.jpg", "image/jpeg", 10)
    with pytest.raises(PayloadTooLargeError):
        validate_upload_request({"filename": "a.jpg", "content_type": "image/jpeg", "size": 101}, 100)
    with pytest.raises(UnsupportedMediaTypeError):
        validate_upload_request({"filename": "a.svg", "content_type": "image/svg+xml"}, 100)
    for body in ([], "x", {"filename": "a.jpg"}, {"filename": "a.jpg", "content_type": "image/png", "size": "9"},
                 {"filename": "a.jpg", "content_type": "image/png", "size": 0},
                 {"filename": "a.jpg", "content_type": "image/png", "size": True},
                 {"filename": "a.jpg", "content_type": "image/png", "extra": 1}):
        with pytest.raises(InvalidRequestError):
            validate_upload_request(body, 100)
