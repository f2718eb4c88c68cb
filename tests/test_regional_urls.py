"""Presigned URLs name the bucket's regional virtual-hosted endpoint.

Outside us-east-1 a new bucket answers the global name with a 307 that a
browser's CORS upload cannot follow, and opt-in regions (ap-east-1) fail
outright. Presigning is offline: no AWS, no moto needed.
"""

from urllib.parse import urlsplit

import pytest

import app as app_module

EXPECTED_HOST = {
    "us-east-1": "{bucket}.s3.amazonaws.com",  # us-east-1's own regional name
    "eu-west-1": "{bucket}.s3.eu-west-1.amazonaws.com",
    "ap-east-1": "{bucket}.s3.ap-east-1.amazonaws.com",
}


@pytest.mark.parametrize("region", sorted(EXPECTED_HOST))
def test_presigned_post_and_get_use_the_regional_endpoint(region, monkeypatch):
    monkeypatch.setenv("AWS_REGION", region)
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    storage = app_module.get_storage()  # built as on Lambda, from the settings' region

    post = storage.presign_upload("uploads/x/a.jpg", "image/jpeg", 1000, 60)
    get = storage.presign_download("processed-a.jpg", "image/jpeg", 60)

    assert urlsplit(post["url"]).netloc == EXPECTED_HOST[region].format(bucket=storage.input_bucket)
    assert urlsplit(get).netloc == EXPECTED_HOST[region].format(bucket=storage.output_bucket)
    assert urlsplit(get).path == "/processed-a.jpg"


def test_an_ip_endpoint_keeps_path_style_for_the_local_stack(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    storage = app_module.get_storage()
    post = storage.presign_upload("uploads/x/a.jpg", "image/jpeg", 1000, 60)
    assert post["url"] == f"http://127.0.0.1:4566/{storage.input_bucket}"
