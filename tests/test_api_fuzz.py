"""No input makes the API answer 500 or anything but its JSON error shape;
docs/openapi.yaml lists exactly the routes app.py serves."""

import json
from pathlib import Path
from urllib.parse import quote, urlencode

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import app as app_module

SPEC = yaml.safe_load((Path(__file__).resolve().parents[1] / "docs" / "openapi.yaml").read_text())
FUZZ = settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
JSON = {"Content-Type": "application/json"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
upload_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"filename": json_values | st.text(max_size=300), "content_type": json_values | st.sampled_from(
            ["image/jpeg", "image/png", "text/html", "IMAGE/WEBP", ""])},
        optional={"size": json_values | st.integers(min_value=-5, max_value=10**12), "extra": json_values},
    ),
)


def assert_error_shape(response, allowed):
    assert response.status_code in allowed, (response.status_code, response.body[:300])
    if response.status_code >= 400:
        body = json.loads(response.body)
        assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])


def test_openapi_lists_exactly_the_served_routes():
    served = {(path, method.lower()) for path, methods in app_module.app.routes.items()
              for method in methods if method != "OPTIONS"}
    documented = {(path, method) for path, item in SPEC["paths"].items()
                  for method in item if method in ("get", "post", "put", "delete", "patch")}
    assert served == documented


@FUZZ
@given(body=upload_bodies)
def test_create_upload_never_fails_badly(client, body):
    response = client.http.post("/uploads", headers=JSON, body=json.dumps(body))
    assert_error_shape(response, {201, 400, 413, 415})


@FUZZ
@given(raw=st.binary(max_size=300))
def test_create_upload_with_raw_bytes(client, raw):
    response = client.http.post("/uploads", headers=JSON, body=raw)
    assert_error_shape(response, {201, 400, 413, 415})


def test_huge_bodies_are_refused_before_parsing(client):
    body = json.dumps({"filename": "a.jpg", "content_type": "image/jpeg", "pad": "x" * 1_000_000})
    response = client.http.post("/uploads", headers=JSON, body=body)
    assert_error_shape(response, {413})
    assert json.loads(response.body)["error"]["code"] == "body_too_large"


@FUZZ
@given(image_id=st.text(min_size=1, max_size=200).filter(lambda s: "/" not in s and s not in (".", "..")))
def test_image_ids_never_fail_badly(client, image_id):
    for method in ("GET", "DELETE"):
        response = client.http.request(method, "/images/" + quote(image_id, safe=""))
        assert_error_shape(response, {400, 404})


def test_ten_kilobyte_and_traversal_ids(client):
    for image_id in ("a" * 10_000, "..%2F..%2Fetc%2Fpasswd", "%00", "%E2%80%AE" * 5):
        assert_error_shape(client.http.get("/images/" + image_id), {400, 404})


@FUZZ
@given(params=st.dictionaries(st.sampled_from(["status", "key", "limit", "cursor", "x"]),
                              st.text(max_size=80), max_size=4))
def test_list_parameters_never_fail_badly(client, params):
    response = client.http.get("/images?" + urlencode(params))
    assert_error_shape(response, {200, 400})


@FUZZ
@given(image_id=st.sampled_from(["0" * 32, "not-an-id"]), body=st.one_of(
    json_values, st.fixed_dictionaries({"focus": json_values}),
    st.fixed_dictionaries({"focus": st.fixed_dictionaries({"x": json_values, "y": json_values})})))
def test_patch_bodies_never_fail_badly(client, image_id, body):
    response = client.http.patch("/images/" + image_id, headers=JSON, body=json.dumps(body))
    assert_error_shape(response, {400, 404})
