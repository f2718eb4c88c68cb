"""The CLI finds the running stack, and says each problem in one line.

`imgpipe run` records its ports in the state directory; the other commands
read them when no --api / IMGPIPE_API / --aws-port is given. Nothing on a
port, or the wrong server on it, is one sentence, never a traceback or a
dumped body.
"""

import http.server
import os
import subprocess
import sys
import threading

import pytest

from imgpipe.localstack import LocalStack
from imgpipe.running import record_ports, running_stack
from imgpipe.stackprocess import ROOT, free_port
from tests import images
from tests.stack import cli_env, run_cli


def said(result: subprocess.CompletedProcess) -> str:
    return " ".join((result.stdout + result.stderr).split())  # rich wraps long lines


def test_status_and_events_find_the_running_stacks_ports(local_stack, tmp_path):
    listing = run_cli("status", IMGPIPE_STATE_DIR=str(local_stack.state_dir))
    assert listing.returncode == 0, said(listing)
    assert "status" in listing.stdout and "does not answer" not in said(listing)
    events = run_cli("events", IMGPIPE_STATE_DIR=str(local_stack.state_dir))
    assert events.returncode == 0, said(events)
    photo = tmp_path / "found.jpg"
    photo.write_bytes(images.jpeg(64, 48))
    uploaded = run_cli("upload", str(photo), IMGPIPE_STATE_DIR=str(local_stack.state_dir))
    assert uploaded.returncode == 0, said(uploaded)


def test_a_ports_file_left_by_a_killed_stack_is_ignored(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    record_ports(tmp_path, "http://127.0.0.1:8101", 4567)
    path = tmp_path / "stack.json"
    path.write_text(path.read_text().replace(f'"pid": {os.getpid()}', f'"pid": {gone.stdout.strip()}'))
    assert running_stack(tmp_path) == {}
    record_ports(tmp_path, "http://127.0.0.1:8101", 4567)  # this process: alive
    assert running_stack(tmp_path) == {"api": "http://127.0.0.1:8101", "aws_port": 4567}


@pytest.mark.parametrize("command", [("status", "--dead"), ("reprocess", "--dry-run"), ("events",)])
def test_nothing_on_the_aws_port_is_one_line(command, tmp_path):
    port = free_port()
    result = run_cli(*command, "--aws-port", str(port), IMGPIPE_STATE_DIR=str(tmp_path))
    assert result.returncode == 1
    assert f"No local stack answers on 127.0.0.1:{port}" in said(result)
    assert "Traceback" not in said(result) and len(result.stderr.strip().splitlines()) <= 3  # one sentence, wrapped


def test_does_not_answer_names_the_api_option(tmp_path):
    result = run_cli("status", "--api", f"http://127.0.0.1:{free_port()}", IMGPIPE_STATE_DIR=str(tmp_path))
    assert result.returncode == 1 and "--api or IMGPIPE_API" in said(result)


class _NotFound(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_error(404)  # an HTML error page, as most web servers send

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def html_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_wrong_server_is_named_not_dumped(html_server, local_stack, tmp_path):
    html = run_cli("status", "--api", html_server, IMGPIPE_STATE_DIR=str(tmp_path))
    assert html.returncode == 1
    assert f"{html_server} is not the imgpipe API (it answered HTTP 404 with an HTML page)" in said(html)
    assert "<" not in said(html)
    xml = run_cli("status", "--api", local_stack.aws_url, IMGPIPE_STATE_DIR=str(tmp_path))  # S3 answers XML
    assert xml.returncode == 1 and "is not the imgpipe API" in said(xml) and "an XML document" in said(xml)
    assert "<" not in said(xml)


def test_the_ready_line_gives_the_aws_cli_dummy_credentials():
    banner = LocalStack(port=8101, aws_port=4567).banner()
    assert ("AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local aws --endpoint-url http://127.0.0.1:4567 s3 ls"
            in banner)


def test_outside_the_virtualenv_the_cli_says_where_its_packages_are():
    """A Python with click but without rich (a system click, as in the issue)."""
    script = ("import sys, runpy; sys.modules['rich'] = None; sys.argv = ['imgpipe', 'status']; "
              "runpy.run_module('imgpipe', run_name='__main__', alter_sys=True)")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=cli_env(), capture_output=True, text=True)
    assert result.returncode == 2
    assert "run .venv/bin/python -m imgpipe, or activate .venv" in result.stderr
    assert "Traceback" not in result.stderr
