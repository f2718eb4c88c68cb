"""The API as served by `make run`, judged by tools nobody on this project wrote.

Schemathesis runs every check it has against docs/openapi.yaml (its coverage,
fuzzing and stateful phases, positive and negative data), and the errors that
only a real server shows (unknown routes, methods http.server does not know)
are checked by hand. The stack is this module's own: schemathesis creates and
deletes images, which must not meet the other end-to-end tests' images.
"""

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from imgpipe.stackprocess import StackProcess

ROOT = Path(__file__).resolve().parents[1]
# Examples per operation: about 40 s on 2 shared cores; the seed keeps a landing's run repeatable.
MAX_EXAMPLES, SEED = "30", "20261130"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with StackProcess(tmp_path_factory.mktemp("schemathesis-stack") / "state") as stack:
        yield stack


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text[:300]
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.json() == {"error": {"code": code, "message": response.json()["error"]["message"]}}
    assert response.json()["error"]["message"]


def test_schemathesis_finds_nothing(stack, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "--config-file", str(ROOT / "tests" / "schemathesis.toml"),
         "run", str(ROOT / "docs" / "openapi.yaml"), "--url", stack.api, "--checks", "all",
         "--max-examples", MAX_EXAMPLES, "--seed", SEED, "--workers", "1", "--request-timeout", "20"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout or " passed" in result.stdout, result.stdout[-2000:]


@pytest.mark.parametrize("path", ["/nope", "/images/" + "a" * 32 + "/extra", "/uploads/x"])
def test_an_unknown_route_is_a_404_in_our_error_shape(stack, path):
    for method in ("GET", "POST"):
        assert_error(requests.request(method, stack.api + path, timeout=10), 404, "not_found")


def test_a_method_a_route_lacks_is_a_405_in_our_error_shape(stack):
    for method, path in (("POST", "/health"), ("PUT", "/images"), ("TRACE", "/uploads"), ("QUERY", "/")):
        response = requests.request(method, stack.api + path, timeout=10)
        assert_error(response, 405, "method_not_allowed")
        assert response.headers["Allow"]
    assert "checks" not in requests.post(stack.api + "/health", timeout=10).json()


def test_request_bodies_that_used_to_be_500s(stack):
    nested = "[" * 5000 + "]" * 5000
    response = requests.post(stack.api + "/uploads", data=nested, timeout=10,
                             headers={"Content-Type": "application/json"})
    assert_error(response, 400, "bad_request")
    for limit in ("%C2%B2", "%D9%A3"):
        assert_error(requests.get(f"{stack.api}/images?limit={limit}", timeout=10), 400, "bad_request")
    cursor = base64.urlsafe_b64encode(json.dumps({"image_id": "x"}).encode()).decode().rstrip("=")
    assert_error(requests.get(f"{stack.api}/images?cursor={cursor}", timeout=10), 400, "bad_request")
