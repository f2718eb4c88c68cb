"""On-demand variants through `make run`'s stack: the CLI's signed URL, one render, the
stored variant served again without rendering (counted), delete."""

import time

import requests

from tests import images
from tests.stack import run_cli
from tests.test_localstack import upload


def _get(url: str, accept: str = "image/webp,*/*") -> requests.Response:
    return requests.get(url, headers={"Accept": accept}, allow_redirects=False, timeout=30)


def test_a_variant_url_renders_once_then_is_served_from_storage(local_stack):
    image_id = upload(local_stack, "wide.jpg", images.jpeg(1600, 1200), "image/jpeg")
    assert local_stack.wait_final(image_id)["status"] == "COMPLETE"
    made = run_cli("url", image_id, "--width", "640", "--format", "auto",
                   "--api", local_stack.api, "--state-dir", str(local_stack.state_dir))
    assert made.returncode == 0, made.stderr
    url = made.stdout.strip()
    assert url.startswith(f"{local_stack.api}/v/") and url.endswith(f"/{image_id}/w_640")

    first = _get(url)
    assert first.status_code == 302 and first.headers["X-Imgpipe-Variant"] == "rendered"
    picture = requests.get(first.headers["Location"], timeout=30)
    assert picture.status_code == 200 and picture.headers["Content-Type"] == "image/webp"
    assert images.decode(picture.content).size == (640, 480)

    started = time.perf_counter()
    again = [_get(url) for _ in range(5)]
    per_request = (time.perf_counter() - started) / 5
    assert {r.headers["X-Imgpipe-Variant"] for r in again} == {"stored"}  # no second render
    print(f"repeated variant request through make run: {per_request * 1000:.1f} ms")

    # The API hands out the same URL; a forged one is 403.
    signed = requests.post(f"{local_stack.api}/images/{image_id}/variants", json={"width": 640}, timeout=10)
    assert signed.status_code == 201 and signed.json()["url"] == url
    assert _get(url.replace("/w_640", "/w_641")).status_code == 403

    assert requests.delete(f"{local_stack.api}/images/{image_id}", timeout=10).status_code == 204
    assert _get(url).status_code == 404
    assert requests.get(first.headers["Location"], timeout=30).status_code in (403, 404)
