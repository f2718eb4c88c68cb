"""An MPO (the multi-picture JPEG many cameras write) uploads through the API, the CLI and the page.

Browsers and Python's mimetypes cannot name its type: the CLI and the page
send image/jpeg, and the API judges a generic type (application/octet-stream
or none) by the filename's extension.
"""

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from chalicelib.errors import UnsupportedMediaTypeError
from chalicelib.uploads import validate_upload_request
from imgpipe.client import content_type_of
from tests.stack import run_cli
from tests.test_api import post_upload


def mpo() -> bytes:
    first, second = Image.new("RGB", (640, 480), "red"), Image.new("RGB", (640, 480), "blue")
    out = io.BytesIO()
    first.save(out, "MPO", save_all=True, append_images=[second])
    return out.getvalue()


@pytest.mark.parametrize("given", ["application/octet-stream", "binary/octet-stream", ""])
def test_a_generic_type_is_judged_by_the_extension(given):
    assert validate_upload_request({"filename": "IMG_0001.MPO", "content_type": given}, 100)[1] == "image/jpeg"
    assert validate_upload_request({"filename": "dsc.heic", "content_type": given}, 100)[1] == "image/heic"
    with pytest.raises(UnsupportedMediaTypeError):
        validate_upload_request({"filename": "notes.txt", "content_type": "application/octet-stream"}, 100)


def test_the_cli_names_an_mpo_a_jpeg():
    assert content_type_of(Path("IMG_0001.MPO")) == "image/jpeg"
    assert content_type_of(Path("a.png")) == "image/png"


def test_the_api_issues_an_upload_for_an_mpo_the_browser_cannot_name(client):
    response = post_upload(client, {"filename": "camera.mpo", "content_type": "application/octet-stream"})
    assert response.status_code == 201, response.body
    assert response.json_body["upload"]["fields"]["Content-Type"] == "image/jpeg"


def test_an_mpo_uploads_through_the_cli(local_stack, tmp_path):
    photo = tmp_path / "camera.mpo"
    photo.write_bytes(mpo())
    result = run_cli("upload", str(photo), "--api", local_stack.api)
    assert result.returncode == 0, result.stdout + result.stderr
    image_id = result.stdout.split("→ ")[1].split()[0]
    record = json.loads(run_cli("status", image_id, "--api", local_stack.api).stdout)
    assert record["status"] == "COMPLETE" and record["source"]["width"] == 640
