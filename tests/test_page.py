"""The upload page in real headless Chromium (Debian's package, driven by Playwright)."""

import os
import shutil
from pathlib import Path

import pytest

from tests import images

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements-dev.txt")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        if os.environ.get("CI"):  # .ci/run installs it: a missing browser there is a failure
            pytest.fail(f"no Chromium at {CHROMIUM} in CI")
        pytest.skip(f"no Chromium at {CHROMIUM}: `apt-get install chromium` (.ci/run does) or set CHROMIUM")
    with sync_api.sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}],
                         ids=["laptop", "phone"])
def test_upload_two_images_and_see_one_refused(local_stack, browser, tmp_path, viewport):
    files = {"photo.jpg": images.jpeg(1600, 1200), "logo.png": images.png_with_alpha(600, 400),
             "notes.txt": b"not an image"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    page = browser.new_page(viewport=viewport)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{local_stack.api}/")
    page.set_input_files("#picker", [str(tmp_path / name) for name in files])

    expect = sync_api.expect
    for name in ("photo.jpg", "logo.png"):
        row = page.locator(f'li[data-name="{name}"]')
        expect(row).to_have_attribute("data-status", "COMPLETE", timeout=60_000)
        thumbnails = row.locator(".rendition img")
        expect(thumbnails).to_have_count(7)
        for img in thumbnails.all():
            img.scroll_into_view_if_needed()
            expect(img).to_have_js_property("complete", True)
            assert img.evaluate("i => i.naturalWidth") > 0, "a thumbnail did not load"
        expect(row).to_contain_text("320×320")
    refused = page.locator('li[data-name="notes.txt"]')
    expect(refused).to_have_attribute("data-status", "REFUSED")
    expect(refused).to_contain_text("only images can be uploaded")

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"upload-page-{viewport['width']}.png", full_page=True)
    assert errors == []
    page.close()


def test_the_key_field_is_kept_per_tab_and_sent_to_the_api_only(local_stack, browser, tmp_path):
    """A protected API needs the key (x-api-key) or a token (Authorization) on every API call."""
    (tmp_path / "photo.jpg").write_bytes(images.jpeg(64, 48))
    context = browser.new_context()
    page = context.new_page()
    sent = []
    page.on("request", lambda r: sent.append((r.method, r.url, r.headers)))
    page.goto(f"{local_stack.api}/")
    page.fill("#credential", "test-key-123")
    page.reload()  # sessionStorage survives a reload of the tab
    sync_api.expect(page.locator("#credential")).to_have_value("test-key-123")

    page.set_input_files("#picker", [str(tmp_path / "photo.jpg")])
    row = page.locator('li[data-name="photo.jpg"]')
    sync_api.expect(row).to_have_attribute("data-status", "COMPLETE", timeout=60_000)
    api_calls = [(m, u, h) for m, u, h in sent if u.startswith(local_stack.api + "/uploads")
                 or u.startswith(local_stack.api + "/images/")]
    assert {m for m, _, _ in api_calls} == {"POST", "GET"}
    assert all(h.get("x-api-key") == "test-key-123" for _, _, h in api_calls), api_calls
    storage = [h for m, u, h in sent if m == "POST" and not u.startswith(local_stack.api)]
    assert storage and all("x-api-key" not in h and "authorization" not in h for h in storage)

    page.fill("#credential", "eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl")  # a JWT's shape
    sent.clear()
    page.set_input_files("#picker", [str(tmp_path / "photo.jpg")])
    page.wait_for_function("document.querySelectorAll('li[data-status=COMPLETE]').length === 2",
                           timeout=60_000)
    posted = [h for m, u, h in sent if m == "POST" and u == local_stack.api + "/uploads"]
    assert posted[0].get("authorization") == "eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl"
    assert "x-api-key" not in posted[0]
    context.close()


PHONE = {"width": 390, "height": 844}


def test_on_a_phone_tiles_labels_progress_and_a_reload(local_stack, browser, tmp_path):
    """390 px: whole labels, tiles in the picture's aspect from its smallest rendition, a bar
    that moves on PENDING/PROCESSING, and a reload that lists the image again."""
    import uuid
    from urllib.parse import unquote, urlsplit

    import requests

    name = f"wide-{uuid.uuid4().hex[:8]}.jpg"
    (tmp_path / name).write_bytes(images.jpeg(1600, 900))
    page = browser.new_page(viewport=PHONE)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    hold = {"on": True}

    def processing(route):  # GET /images/{id} answers PROCESSING until the test lets it through
        if hold["on"] and route.request.method == "GET":
            image_id = route.request.url.rsplit("/", 1)[-1]
            return route.fulfill(json={"image_id": image_id, "status": "PROCESSING"})
        return route.continue_()

    page.route("**/images/*", processing)
    page.goto(f"{local_stack.api}/")
    page.set_input_files("#picker", [str(tmp_path / name)])
    expect = sync_api.expect
    row = page.locator(f'li[data-name="{name}"]')
    expect(row).to_have_attribute("data-status", "PROCESSING", timeout=60_000)
    bar = row.locator("progress")
    expect(bar).to_have_js_property("value", 0.85)  # sent (0.6), then PENDING and PROCESSING, not full
    hold["on"] = False
    expect(row).to_have_attribute("data-status", "COMPLETE", timeout=60_000)

    items = requests.get(f"{local_stack.api}/images", params={"limit": "50"}, timeout=10).json()["items"]
    [record] = [item for item in items if item["source"]["key"].endswith("/" + name)]
    aspect = record["source"]["width"] / record["source"]["height"]
    smallest = min((r for r in record["renditions"] if abs(r["width"] / r["height"] - aspect) < 0.02 * aspect),
                   key=lambda r: r["bytes"])  # the smallest of the picture's aspect: thumb is a square crop
    tiles = row.locator(".rendition")
    expect(tiles).to_have_count(7)
    sources = set()
    for tile in tiles.all():
        tile.scroll_into_view_if_needed()
        label = tile.locator("span")
        assert label.evaluate("s => s.scrollWidth <= s.clientWidth"), f"a label is cut: {label.inner_text()}"
        assert any(fmt in label.inner_text() for fmt in ("jpeg", "webp")), label.inner_text()
        img = tile.locator("img")
        expect(img).to_have_js_property("complete", True)
        assert img.evaluate("i => getComputedStyle(i).objectFit") == "contain"
        assert img.evaluate("i => i.naturalWidth / i.naturalHeight") > 1.7  # 16:9 kept, not a square crop
        sources.add(unquote(urlsplit(img.get_attribute("src")).path))
    assert len(sources) == 1 and sources.pop().endswith(smallest["key"])  # the smallest, for every tile

    page.unroute("**/images/*")
    page.reload()
    earlier = page.locator(f'li[data-earlier-name="{name}"]')
    expect(earlier).to_have_attribute("data-earlier-status", "COMPLETE", timeout=30_000)
    expect(earlier.locator(".rendition")).to_have_count(7)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "upload-page-390-reloaded.png", full_page=True)
    assert errors == []
    page.close()


def test_a_stopped_api_is_said_plainly(local_stack, browser, tmp_path):
    (tmp_path / "photo.jpg").write_bytes(images.jpeg(64, 48))
    page = browser.new_page(viewport=PHONE)
    page.goto(f"{local_stack.api}/")
    page.route("**/uploads", lambda route: route.abort("connectionrefused"))
    page.set_input_files("#picker", [str(tmp_path / "photo.jpg")])
    row = page.locator('li[data-name="photo.jpg"]')
    sync_api.expect(row).to_have_attribute("data-status", "REFUSED", timeout=30_000)
    sync_api.expect(row).to_contain_text("The API cannot be reached")
    assert "TypeError" not in row.inner_text() and "went wrong on our side" not in row.inner_text()
    page.close()


def test_the_variant_panel_shows_a_signed_url_and_its_picture(local_stack, browser, tmp_path):
    (tmp_path / "wide.jpg").write_bytes(images.jpeg(1600, 1200))
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{local_stack.api}/")
    page.set_input_files("#picker", [str(tmp_path / "wide.jpg")])
    row = page.locator('li[data-name="wide.jpg"]')
    expect = sync_api.expect
    expect(row).to_have_attribute("data-status", "COMPLETE", timeout=60_000)
    panel = row.locator("details.variant")
    panel.locator("summary").click()
    panel.locator("input[name=width]").fill("300")
    panel.locator("select[name=format]").select_option("webp")
    panel.locator("button").click()
    expect(panel.locator("output")).to_contain_text("/v/")
    expect(panel.locator("output")).to_contain_text("/w_300,f_webp")
    expect(panel.locator(".meta")).to_have_text("300×225", timeout=30_000)
    assert errors == []
    page.close()
