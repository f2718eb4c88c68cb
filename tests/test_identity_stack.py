"""Each user sees only their own images, end to end through `python -m imgpipe run`.

The local stage runs AUTH=cognito like a deployed one; the stack's issuer
(imgpipe/localauth.py) signs the tokens and its gateway refuses forged ones.
"""

import re

import requests

from tests import images
from tests.stack import run_cli


def token(stack, name: str, admin: bool = False) -> dict[str, str]:
    issued = requests.post(f"{stack.api}/local-auth/token", json={"name": name, "admin": admin}, timeout=10)
    assert issued.status_code == 200, issued.text
    return {"Authorization": issued.json()["id_token"]}


def test_alice_sees_her_images_bob_sees_none_and_an_admin_sees_all(local_stack, tmp_path):
    photo = tmp_path / "alice-only.jpg"
    photo.write_bytes(images.jpeg(320, 240))
    uploaded = run_cli("upload", str(photo), "--as", "alice", "--api", local_stack.api)
    assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
    image_id = re.search(r"→ (\S+)", uploaded.stdout).group(1)
    alice, bob, admin = token(local_stack, "alice"), token(local_stack, "bob"), token(local_stack, "root", admin=True)

    record = requests.get(f"{local_stack.api}/images/{image_id}", headers=alice, timeout=10).json()
    assert record["owner"] == "alice" and record["status"] == "COMPLETE"
    key = record["source"]["key"]
    for query in ({"key": key}, {"limit": "100"}):
        answer = requests.get(f"{local_stack.api}/images", params=query, headers=bob, timeout=10).json()
        assert image_id not in [i["image_id"] for i in answer["items"]], query
    assert requests.get(f"{local_stack.api}/images/{image_id}", headers=bob, timeout=10).status_code == 404
    patched = requests.patch(f"{local_stack.api}/images/{image_id}", headers=bob, json={"focus": {"x": 0.5, "y": 0.5}}, timeout=10)
    assert patched.status_code == 404
    assert requests.delete(f"{local_stack.api}/images/{image_id}", headers=bob, timeout=10).status_code == 404
    listed = run_cli("status", "--as", "bob", "--api", local_stack.api)
    assert listed.returncode == 0 and image_id not in listed.stdout

    seen = requests.get(f"{local_stack.api}/images", params={"key": key}, headers=admin, timeout=10).json()
    assert [i["image_id"] for i in seen["items"]] == [image_id]
    assert run_cli("status", image_id, "--as", "root", "--admin", "--api", local_stack.api).returncode == 0
    assert requests.get(f"{local_stack.api}/images/{image_id}", headers=alice, timeout=10).status_code == 200
    assert requests.delete(f"{local_stack.api}/images/{image_id}", headers=alice, timeout=10).status_code == 204


def test_a_token_the_stack_did_not_sign_is_refused(local_stack):
    real = token(local_stack, "mallory")["Authorization"]
    head, body, _ = real.split(".")
    forged = f"{head}.{body}.{'A' * 43}"
    answer = requests.get(f"{local_stack.api}/images", headers={"Authorization": forged}, timeout=10)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"
    refused = requests.post(f"{local_stack.api}/local-auth/token", json={"name": "../x"}, timeout=10)
    assert refused.status_code == 400 and "A name is" in refused.json()["error"]["message"]
