"""`make run`'s install: what requirements-run.txt brings is enough for every part the stack uses,
and a call the local emulator itself fails is said once, in one line, not a traceback per image.

The suite runs with the dev requirements (every moto extra), which hides a
missing run requirement: `make check-run-install` (called by .ci/run) builds
a virtualenv from requirements-run.txt alone; the last test here runs its
check when that virtualenv exists.
"""

import io
import logging
import re
import subprocess
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from imgpipe.loudfailures import EMULATOR_FAILURE, LoudFailures, QuietEmulatorFailures

ROOT = Path(__file__).resolve().parents[1]
RUN_ONLY_PYTHON = ROOT / "build" / "run-only-venv" / "bin" / "python"


def test_the_run_requirements_install_moto_with_eventbridge():
    [moto] = [line for line in (ROOT / "requirements-run.txt").read_text().splitlines() if line.startswith("moto[")]
    extras = set(re.match(r"moto\[([^\]]*)\]", moto)[1].split(","))
    assert {"s3", "sqs", "events"} <= extras  # events: jsonpath_ng, which PutEvents imports


def broken_moto(environ, start_response):
    raise ModuleNotFoundError("No module named 'jsonpath_ng'", name="jsonpath_ng")


def call(app, target: str = "AWSEvents.PutEvents") -> tuple[list, bytes]:
    got: list = []
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "HTTP_X_AMZ_TARGET": target, "wsgi.input": io.BytesIO()}
    body = b"".join(app(environ, lambda status, headers, exc_info=None: got.extend((status, headers))))
    return got, body


def test_a_call_moto_fails_is_said_once_in_one_line(caplog):
    app = LoudFailures(broken_moto)
    with caplog.at_level(logging.ERROR, logger="imgpipe.emulator"):
        for _ in range(3):
            (status, headers), body = call(app)
    [said] = caplog.records
    assert said.exc_info is None and "\n" not in said.getMessage()
    assert "No module named 'jsonpath_ng'" in said.getMessage() and "make run" in said.getMessage()
    assert status.startswith("500") and dict(headers)["X-Amzn-ErrorType"] == EMULATOR_FAILURE
    assert EMULATOR_FAILURE.encode() in body and b"Traceback" not in body


def test_an_s3_call_moto_fails_gets_an_s3_error():
    got: list = []
    environ = {"REQUEST_METHOD": "PUT", "PATH_INFO": "/bucket/key", "wsgi.input": io.BytesIO()}
    body = b"".join(LoudFailures(broken_moto)(environ, lambda *args: got.extend(args[:2])))
    assert got[0].startswith("500") and b"<Code>EmulatorFailure</Code>" in body


def test_the_per_image_traceback_of_an_emulator_failure_is_dropped():
    quiet = QuietEmulatorFailures()

    def record(exc: Exception) -> logging.LogRecord:
        try:
            raise RuntimeError("the event was not published") from exc
        except RuntimeError as wrapped:
            return logging.LogRecord("chalicelib.notify", logging.ERROR, __file__, 1, "the event of %s was not "
                                     "published", ("abc",), (type(wrapped), wrapped, wrapped.__traceback__))

    emulator = ClientError({"Error": {"Code": EMULATOR_FAILURE, "Message": "m"}}, "PutEvents")
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "m"}}, "PutEvents")
    assert not quiet.filter(record(emulator))
    assert quiet.filter(record(throttled))
    assert quiet.filter(logging.LogRecord("x", logging.INFO, __file__, 1, "plain", (), None))


@pytest.mark.skipif(not RUN_ONLY_PYTHON.exists(),
                    reason="no run-only virtualenv: `make check-run-install` builds it (CI does)")
def test_the_run_only_install_publishes_an_event():
    checked = subprocess.run([str(RUN_ONLY_PYTHON), "-m", "tests.run_only"], cwd=ROOT, capture_output=True,
                             text=True, timeout=180)
    assert checked.returncode == 0, checked.stderr[-3000:]
