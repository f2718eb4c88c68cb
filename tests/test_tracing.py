"""X-Ray: Powertools' Tracer wraps every handler only when the stage's TRACING is true.

Each case imports app.py in a fresh interpreter (the Tracer is chosen at import). The traced
one runs as Lambda would (trace header, function name) and sends its segments to a UDP
socket on 127.0.0.1 standing in for the X-Ray daemon.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRACE_ID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
RUN_PAGE = """
import json, sys
from chalice.test import Client
import app
with Client(app.app, stage_name="test") as client:
    status = client.http.get("/").status_code
print(json.dumps({"status": status, "xray": "aws_xray_sdk" in sys.modules}))
"""


def run_app(**env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in ("TRACING", "AWS_LAMBDA_FUNCTION_NAME")}
    result = subprocess.run([sys.executable, "-c", RUN_PAGE], cwd=ROOT, env={**base, **env},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_untraced_stages_never_import_the_xray_sdk():
    assert run_app() == {"status": 200, "xray": False}
    assert run_app(TRACING="false") == {"status": 200, "xray": False}


def test_a_traced_stage_sends_a_subsegment_per_invocation_in_lambda():
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(10)
    try:
        address = f"127.0.0.1:{daemon.getsockname()[1]}"
        outcome = run_app(TRACING="true", AWS_LAMBDA_FUNCTION_NAME="imgpipe-test", _X_AMZN_TRACE_ID=TRACE_ID,
                          AWS_XRAY_DAEMON_ADDRESS=address, LAMBDA_TASK_ROOT=str(ROOT))
        assert outcome == {"status": 200, "xray": True}
        datagram = daemon.recv(65536).decode()
    finally:
        daemon.close()
    header, _, body = datagram.partition("\n")
    assert json.loads(header) == {"format": "json", "version": 1}
    assert json.loads(body)["name"] == "## app.trace_invocation"  # capture_method names it


def test_outside_lambda_a_traced_stage_sends_nothing():
    """`make run` and the tests: the Tracer disables itself without a Lambda environment."""
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(0.5)
    try:
        address = f"127.0.0.1:{daemon.getsockname()[1]}"
        assert run_app(TRACING="true", AWS_XRAY_DAEMON_ADDRESS=address)["status"] == 200
        try:
            daemon.recv(65536)
            raise AssertionError("a segment was sent outside Lambda")
        except TimeoutError:
            pass
    finally:
        daemon.close()
