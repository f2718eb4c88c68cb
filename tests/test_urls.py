"""chalicelib/presign.py: the fast presigned GET signer gives botocore's URLs, byte for byte.

botocore's own clock is frozen (auth.get_current_datetime) at the second the
fast signer is given, so both sign the same request at the same time.
"""

import datetime
from urllib.parse import quote, urlsplit

import boto3
import pytest
import requests
from botocore import auth
from botocore.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.presign import PresignedGetSigner
from imgpipe.stackprocess import free_port

NOW = 1_780_000_000.0  # a fixed second in 2026
TYPES = ("image/jpeg", "image/webp", "image/png", "image/avif")


def _client(region: str = "us-east-1", token: str | None = "session-token", **extra):
    return boto3.client(
        "s3", region_name=region, aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", aws_session_token=token,
        config=Config(signature_version="s3v4", **extra),
    )


def _botocore_url(client, bucket: str, key: str, content_type: str, ttl: int, now: float, monkeypatch) -> str:
    frozen = datetime.datetime.fromtimestamp(now, datetime.UTC).replace(tzinfo=None)
    monkeypatch.setattr(auth, "get_current_datetime", lambda *a, **k: frozen)
    return client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key, "ResponseContentType": content_type},
        ExpiresIn=ttl,
    )


CLIENTS = {
    # app.py's client: SigV4, the Lambda's region.
    "us-east-1": lambda: _client(),
    "eu-west-1 virtual": lambda: _client("eu-west-1", s3={"addressing_style": "virtual"}),
    "no session token": lambda: _client("ap-southeast-2", token=None),
    "local endpoint, path style": lambda: boto3.client(
        "s3", region_name="us-east-1", endpoint_url="http://127.0.0.1:4566",
        aws_access_key_id="local", aws_secret_access_key="local",
        config=Config(signature_version="s3v4")),
}


@pytest.mark.parametrize("name", CLIENTS)
def test_same_url_as_botocore(name, monkeypatch):
    client = CLIENTS[name]()
    signer = PresignedGetSigner(client, "imgpipe-output")
    for key in ("processed-cat.jpg", "renditions/a b+c/thumb.webp", "renditions/ünï/çødé~!'()*.png"):
        for content_type in TYPES:
            fast = signer.url(key, content_type, 3600, now=NOW)
            assert fast == _botocore_url(client, "imgpipe-output", key, content_type, 3600, NOW, monkeypatch)


def test_signing_key_follows_the_day_and_the_credentials(monkeypatch):
    """The derived key is cached per day: across midnight, and after a credential change, it is renewed."""
    client = _client()
    signer = PresignedGetSigner(client, "imgpipe-output")
    midnight = 1_780_012_800.0  # 2026-05-29T00:00:00Z
    assert midnight % 86400 == 0
    for now in (midnight - 1, midnight, midnight + 86399):
        expected = _botocore_url(client, "imgpipe-output", "k.jpg", "image/jpeg", 60, now, monkeypatch)
        assert signer.url("k.jpg", "image/jpeg", 60, now=now) == expected
    rotated = _client()
    rotated._request_signer._credentials = _client(token="new-token")._get_credentials()
    rotated_signer = PresignedGetSigner(rotated, "imgpipe-output")
    before = signer.url("k.jpg", "image/jpeg", 60, now=NOW)
    assert rotated_signer.url("k.jpg", "image/jpeg", 60, now=NOW) != before


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40),
       content_type=st.sampled_from(TYPES), ttl=st.integers(1, 604800))
def test_any_key_same_url_as_botocore(key, content_type, ttl, monkeypatch):
    client = CLIENTS["eu-west-1 virtual"]()
    signer = PresignedGetSigner(client, "imgpipe-output")
    expected = _botocore_url(client, "imgpipe-output", key, content_type, ttl, NOW, monkeypatch)
    assert signer.url(key, content_type, ttl, now=NOW) == expected


def test_url_fetches_the_rendition_from_an_s3_endpoint():
    """Through a real HTTP S3 endpoint (moto server): the URL names the object and the content type."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        client = boto3.client("s3", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
                              aws_access_key_id="local", aws_secret_access_key="local",
                              config=Config(signature_version="s3v4"))
        client.create_bucket(Bucket="imgpipe-output")
        key = "renditions/sunset photo+1.jpg/thumb.webp"
        client.put_object(Bucket="imgpipe-output", Key=key, Body=b"RIFF-webp-bytes")
        url = PresignedGetSigner(client, "imgpipe-output").url(key, "image/webp", 300)
        got = requests.get(url, timeout=10)
        assert got.status_code == 200
        assert got.content == b"RIFF-webp-bytes"
        assert got.headers["Content-Type"] == "image/webp"
        # A CDN URL's path and query, sent to the bucket as CloudFront sends them to its S3 origin
        # (anonymous here: public-read stands in for the distribution's origin access).
        from chalicelib.urls import cdn_url

        for odd in (key, "renditions/ünï/çødé~!'()*,%#?&=;.png", "renditions/a//b/c..d.jpg"):
            client.put_object(Bucket="imgpipe-output", Key=odd, Body=odd.encode(), ACL="public-read")
            cdn = urlsplit(cdn_url("cdn.example.net", odd, "0123456789abcdef"))
            got = requests.get(f"http://127.0.0.1:{port}/imgpipe-output{cdn.path}?{cdn.query}", timeout=10)
            assert (got.status_code, got.content) == (200, odd.encode())
    finally:
        server.stop()


def test_list_and_get_sign_every_rendition_and_urls_false_skips_them(aws, client, monkeypatch):
    """Both routes go through the fast signer; each URL is botocore's for that second."""
    from tests import images
    from tests.conftest import invoke_handler

    monkeypatch.setattr("chalicelib.presign.time.time", lambda: NOW)
    created = client.http.post("/uploads", headers={"Content-Type": "application/json"},
                               body='{"filename": "dog photo.jpg", "content_type": "image/jpeg"}').json_body
    aws.put(f"uploads/{created['image_id']}/dog photo.jpg", images.jpeg(1000, 500))
    for event in aws.received_events():
        invoke_handler(client, event)
    s3 = boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))  # app.py's
    listed = client.http.get("/images").json_body["items"][0]
    got = client.http.get(f"/images/{created['image_id']}").json_body
    assert listed == got and got["status"] == "COMPLETE" and len(got["renditions"]) == 7
    for rendition in got["renditions"]:
        content_type = {"jpeg": "image/jpeg", "webp": "image/webp"}[rendition["format"]]
        assert rendition["url"] == _botocore_url(s3, "imgpipe-test-output", rendition["key"], content_type,
                                                 3600, NOW, monkeypatch)
    bare = client.http.get("/images?urls=false").json_body["items"][0]
    assert [r for r in bare["renditions"] if "url" in r] == []
    assert bare["renditions"] == [{k: v for k, v in r.items() if k != "url"} for r in got["renditions"]]
    assert client.http.get("/images?urls=no").status_code == 400


CDN = "d111111abcdef8.cloudfront.net"


def _process(aws, client, key: str, body: bytes) -> None:
    from tests.conftest import invoke_handler

    aws.put(key, body)
    for event in aws.received_events():
        invoke_handler(client, event)


def _expected_version(rendition: dict, record: dict) -> str:
    """The contract: the rendition's content hash, else (older records) the source's ETag."""
    return rendition.get("version") or record["source"]["etag"]


def test_cdn_urls_from_both_routes_with_a_srcset_of_the_fit_renditions(aws, client, monkeypatch):
    """With CDN_DOMAIN: unsigned, versioned CDN URLs; a srcset per format of the fit renditions,
    one per width."""
    from tests import images

    monkeypatch.setenv("CDN_DOMAIN", CDN)
    key = "photos/a b+c,d.jpg"
    _process(aws, client, key, images.jpeg(1000, 500))
    got = client.http.get("/images?limit=1").json_body["items"][0]
    assert client.http.get(f"/images/{got['image_id']}").json_body == got
    by_name = {(r["name"], r["format"]): r for r in got["renditions"]}
    for rendition in got["renditions"]:
        path = "/".join(quote(part, safe="") for part in rendition["key"].split("/"))
        assert rendition["url"] == f"https://{CDN}/{path}?v={_expected_version(rendition, got)}"
        assert "X-Amz-" not in rendition["url"]
    url = {name_format: r["url"] for name_format, r in by_name.items()}
    # A 1000-px-wide source: medium (1024) and large (2048) are both 1000 wide, never upscaled;
    # thumb is a cover crop; default is the 800×600 fit in the source's format.
    assert got["srcset"] == {
        "jpeg": f"{url['default', 'jpeg']} 800w, {url['medium', 'jpeg']} 1000w",
        "webp": f"{url['medium', 'webp']} 1000w",
    }
    bare = client.http.get("/images?urls=false").json_body["items"][0]
    assert "srcset" not in bare and all("url" not in r for r in bare["renditions"])


def test_a_reupload_to_the_same_key_gets_new_cdn_urls(aws, client, monkeypatch):
    """The version is in the cache key (`?v=`): new bytes at the same key are new URLs, never a stale hit."""
    from tests import images

    monkeypatch.setenv("CDN_DOMAIN", CDN)
    key = "photos/cat.jpg"
    _process(aws, client, key, images.jpeg(640, 480))
    before = client.http.get("/images").json_body["items"][0]
    _process(aws, client, key, images.jpeg(648, 480))
    after = client.http.get("/images").json_body["items"][0]
    assert after["image_id"] == before["image_id"] and after["source"]["etag"] != before["source"]["etag"]
    old = {r["url"] for r in before["renditions"]}
    assert [r["key"] for r in after["renditions"]] == [r["key"] for r in before["renditions"]]
    assert all(r["url"] not in old for r in after["renditions"])


def test_record_without_version_or_etag_still_changes_with_the_record():
    """A record a reprocess reopened has no ETag: its URLs follow updated_at instead."""
    from chalicelib.config import load_settings
    from chalicelib.urls import with_urls

    settings = load_settings({"INPUT_BUCKET": "i", "OUTPUT_BUCKET": "o", "STATUS_TABLE": "t",
                              "CDN_DOMAIN": CDN})
    rendition = {"name": "medium", "format": "webp", "width": 1024, "height": 768,
                 "key": "renditions/k/m.webp"}

    def record(**extra) -> dict:
        return {"source": {"key": "k"}, "renditions": [rendition], **extra}

    first = with_urls(record(updated_at="2026-05-01T00:00:00Z"), settings, None)
    second = with_urls(record(updated_at="2026-05-02T00:00:00Z"), settings, None)
    assert first["renditions"][0]["url"].startswith(f"https://{CDN}/renditions/k/m.webp?v=")
    assert first["renditions"][0]["url"] != second["renditions"][0]["url"]
    versioned = with_urls({"source": {"key": "k", "etag": "e1"},
                           "renditions": [{**rendition, "version": "ab12"}]}, settings, None)
    assert versioned["renditions"][0]["url"] == f"https://{CDN}/renditions/k/m.webp?v=ab12"
    assert versioned["srcset"] == {"webp": f"https://{CDN}/renditions/k/m.webp?v=ab12 1024w"}


def test_presigned_srcset_uses_the_signed_urls(aws, client):
    """Without a CDN the srcset holds the presigned URLs; a comma in a key stays encoded, so it parses."""
    from tests import images

    _process(aws, client, "photos/x,y z.jpg", images.jpeg(1200, 900))
    got = client.http.get("/images").json_body["items"][0]
    url = {(r["name"], r["format"]): r["url"] for r in got["renditions"]}
    assert got["srcset"]["webp"] == f"{url['medium', 'webp']} 1024w, {url['large', 'webp']} 1200w"
    for value in got["srcset"].values():
        for candidate in value.split(", "):
            link, width = candidate.split(" ")
            assert "X-Amz-Signature=" in link and width.endswith("w")


@settings(max_examples=30, deadline=None)
@given(key=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30)
       .filter(lambda k: not any(part in (".", "..") for part in k.split("/"))))
def test_cdn_url_path_names_exactly_the_key(key):
    """The CDN forwards the URL's path to S3, which decodes it back to the same key."""
    from urllib.parse import unquote, urlsplit

    from chalicelib.urls import cdn_url

    parts = urlsplit(cdn_url(CDN, "renditions/" + key, "0123abcd"))
    assert parts.netloc == CDN and parts.query == "v=0123abcd" and not parts.fragment
    assert unquote(parts.path) == "/renditions/" + key
