"""`make check-run-install`: the stack installed from requirements-run.txt alone publishes events.

Run with the throwaway virtualenv's Python (no pytest, no dev requirements):
it starts `python -m imgpipe run` on free ports, uploads one image with the
CLI, and waits until `python -m imgpipe events` shows its Image Completed
event. The tests run with the dev set, which has every moto extra; this is
what a `make run` user has.
"""

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from imgpipe.stackprocess import ROOT, StackProcess, user_environment
from tests import images


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "imgpipe", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**user_environment(), "COLUMNS": "200"})


def check(timeout: float = 30) -> str | None:
    """None when an event arrived; otherwise what went wrong, for a person."""
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "run-only.jpg"
        photo.write_bytes(images.jpeg(320, 240))
        with StackProcess(Path(tmp) / "state") as stack:
            uploaded = cli("upload", str(photo), "--api", stack.api)
            if uploaded.returncode != 0:
                return f"the upload failed:\n{uploaded.stdout}{uploaded.stderr}"
            deadline = time.monotonic() + timeout
            while "Image Completed" not in (shown := cli("events", "--aws-port", str(stack.aws_port))).stdout:
                if time.monotonic() > deadline:
                    return f"no event within {timeout:.0f} s:\n{shown.stdout}{shown.stderr}\n{stack.log()[-3000:]}"
                time.sleep(0.5)
            if "EMULATOR FAILED" in stack.log() or "Traceback" in stack.log():
                return f"the stack logged a failure:\n{stack.log()[-3000:]}"
    return None


if __name__ == "__main__":
    problem = check()
    if problem:
        print(f"make run's install (requirements-run.txt alone) is broken: {problem}", file=sys.stderr)
        sys.exit(1)
    print("make run's install (requirements-run.txt alone) uploads, processes and publishes an event")
