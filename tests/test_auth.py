"""AUTH shapes the API: which routes need a key, a token or a signature.

app.py reads AUTH at import, so each mode is imported in a fresh interpreter
(one for all modes: importlib.reload per mode).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The variant route is public: its signature is the authorization (docs/VARIANTS.md).
OPEN_ROUTES = {("/", "GET"), ("/health", "GET"), ("/v/{signature}/{image_id}/{options}", "GET")}
PROTECTED_ROUTES = {("/uploads", "POST"), ("/images", "GET"), ("/images/{image_id}", "GET"),
                    ("/images/{image_id}", "DELETE"), ("/images/{image_id}", "PATCH"),
                    ("/images/{image_id}/variants", "POST")}
SCRIPT = """
import importlib, json, os, sys
out = {}
for mode in sys.argv[1:]:
    os.environ["AUTH"] = mode
    import app
    app = importlib.reload(app)
    out[mode or "unset"] = [
        [path, method, route.api_key_required,
         route.authorizer and type(route.authorizer).__name__]
        for path, methods in app.app.routes.items() for method, route in methods.items()
        if method != "OPTIONS"]
print(json.dumps(out))
"""


def import_app(*modes: str, **env: str) -> subprocess.CompletedProcess:
    base = {**os.environ, "COGNITO_USER_POOL_ARN": "arn:aws:cognito-idp:eu-west-1:111111111111:userpool/x"}
    return subprocess.run([sys.executable, "-c", SCRIPT, *modes], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**base, **env})


def test_every_route_but_the_page_and_health_is_guarded_in_each_mode():
    done = import_app("", "api_key", "cognito", "iam", "none")
    assert done.returncode == 0, done.stderr
    routes = json.loads(done.stdout)
    expected_guard = {"unset": (True, None), "api_key": (True, None),
                      "cognito": (False, "CognitoUserPoolAuthorizer"), "iam": (False, "IAMAuthorizer")}
    for mode, guard in expected_guard.items():
        guarded = {(p, m) for p, m, key, authorizer in routes[mode] if (key, authorizer) == guard}
        unguarded = {(p, m) for p, m, key, authorizer in routes[mode] if not key and not authorizer}
        assert guarded == PROTECTED_ROUTES, mode
        assert unguarded == OPEN_ROUTES, mode
    assert all(not key and not authorizer for _, _, key, authorizer in routes["none"])


def test_a_bad_mode_or_a_missing_pool_fails_at_import_naming_the_setting():
    bad = import_app("apikey")
    assert bad.returncode != 0 and "AUTH='apikey' must be one of api_key, cognito, iam, none" in bad.stderr
    no_pool = import_app("cognito", COGNITO_USER_POOL_ARN="")
    assert no_pool.returncode != 0 and "COGNITO_USER_POOL_ARN is required" in no_pool.stderr


def test_deployed_stages_ask_for_a_key_and_only_local_is_open():
    stages = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]
    modes = {name: stage["environment_variables"].get("AUTH") for name, stage in stages.items()}
    assert modes.pop("local") == "none"
    assert set(modes.values()) == {"api_key"}, modes
    for name, stage in stages.items():
        if name != "local":
            assert stage["lambda_functions"]["api_handler"]["reserved_concurrency"] > 0, name
