"""Per-user daily limits (chalicelib/quotas.py): the next upload past either limit is a 429
with a sentence; another user, or the next UTC day, is not affected."""

import pytest

import app as app_module
from chalicelib.errors import QuotaExceededError
from chalicelib.quotas import DailyUsage, usage_key
from tests.test_api import new_upload, post_upload


def test_the_upload_past_the_daily_count_is_refused_with_429_for_that_user_only(client, monkeypatch):
    monkeypatch.setenv("UPLOADS_PER_DAY", "2")
    app_module.get_settings.cache_clear()
    app_module.get_usage.cache_clear()
    caller = {"owner": "alice"}
    monkeypatch.setattr(app_module, "_owner", lambda: caller["owner"])
    new_upload(client)
    new_upload(client)
    refused = post_upload(client, {"filename": "c.jpg", "content_type": "image/jpeg", "size": 10})
    assert refused.status_code == 429
    error = refused.json_body["error"]
    assert error["code"] == "quota_exceeded" and "midnight UTC" in error["message"]
    caller["owner"] = "bob"
    new_upload(client)


def test_bytes_per_day_count_the_declared_size_or_the_largest_upload(aws):
    import boto3

    table = boto3.resource("dynamodb", region_name="us-east-1").Table("imgpipe-test-status")
    usage = DailyUsage(table, 0, 1000)
    usage.spend("carol", 600, 0)
    with pytest.raises(QuotaExceededError, match="today's upload limit"):
        usage.spend("carol", 500, 0)
    with pytest.raises(QuotaExceededError, match="larger than the 1000 bytes"):
        usage.spend("dave", 1001, 0)
    usage.spend("carol", 400, 0)  # exactly the rest
    usage.spend("carol", 1000, 24 * 3600)  # the next day starts again
    item = table.get_item(Key={"image_id": usage_key("carol", 0)})["Item"]
    assert item["uploads"] == 2 and item["bytes"] == 1000 and "kind" not in item and "status" not in item
