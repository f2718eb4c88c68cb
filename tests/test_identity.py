"""chalicelib/identity.py: the caller, and who is an admin, from what API Gateway hands over."""

from chalicelib.identity import Caller, caller_of, claim_values


def test_the_owner_is_the_token_subject_and_an_admin_sees_every_owner():
    alice = caller_of({"authorizer": {"claims": {"sub": "a-1"}}, "identity": {"apiKeyId": "k"}}, "admins")
    assert alice == Caller("a-1") and alice.sees == "a-1"
    # The REST API's Cognito authorizer flattens list claims into strings.
    for groups in ("admins", "editors,admins", "[editors admins]", ["admins"]):
        admin = caller_of({"authorizer": {"claims": {"sub": "r", "cognito:groups": groups}}}, "admins")
        assert admin.admin and admin.owner == "r" and admin.sees is None, groups
    assert not caller_of({"authorizer": {"claims": {"sub": "r", "cognito:groups": "administrators"}}}, "admins").admin
    scoped = {"authorizer": {"claims": {"sub": "m", "scope": "openid imgpipe/admin"}}}
    assert caller_of(scoped, "admins", "imgpipe/admin").admin and not caller_of(scoped, "admins").admin


def test_no_group_claim_no_admin_and_a_key_holder_is_one_owner():
    assert claim_values(None) == () and claim_values(7) == ()
    assert caller_of({"identity": {"apiKeyId": "k-1"}}, "admins") == Caller("k-1")
    assert caller_of({"identity": {"apiKeyId": "k-1", "cognito:groups": "admins"}}, "admins").admin is False
    assert caller_of(None, "") == Caller(None)


def test_the_page_is_told_where_to_sign_in_and_a_bad_sign_in_url_fails_at_start():
    import json
    import re

    import pytest

    from chalicelib import web
    from chalicelib.config import load_settings
    from chalicelib.errors import ConfigError

    page = web.upload_page("https://imgpipe-dev-1.auth.eu-west-1.amazoncognito.com", "c</script>")
    config = re.search(r'<script id="sign-in-config" type="application/json">(.*?)</script>', page).group(1)
    assert json.loads(config) == {"url": "https://imgpipe-dev-1.auth.eu-west-1.amazoncognito.com",
                                  "client_id": "c</script>"}
    base = {"INPUT_BUCKET": "i", "OUTPUT_BUCKET": "o", "STATUS_TABLE": "t"}
    assert load_settings({**base, "SIGN_IN_URL": "/local-auth/"}).sign_in_url == "/local-auth"
    with pytest.raises(ConfigError, match="SIGN_IN_URL"):
        load_settings({**base, "SIGN_IN_URL": "javascript:alert(1)"})
