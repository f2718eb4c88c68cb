"""The type checker over app.py, chalicelib/, deploy/ and imgpipe/: `python -m mypy` with
pyproject.toml's [tool.mypy] (boto3's clients typed by boto3-stubs) must find nothing.

One subprocess, so xdist runs it beside the other files; its cache (.mypy_cache,
git-ignored) makes a run after the first take seconds.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_finds_no_type_errors() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, f"mypy found type errors:\n{result.stdout}{result.stderr}"
