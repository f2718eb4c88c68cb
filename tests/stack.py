"""Running the CLI as a user would, for the CLI and end-to-end tests."""

import os
import subprocess
import sys

from imgpipe.stackprocess import ROOT


def cli_env(**extra: str) -> dict[str, str]:
    """The environment a user's shell would have: none of the test suite's AWS settings."""
    from tests.conftest import TEST_ENV

    env = {k: v for k, v in os.environ.items() if k not in TEST_ENV and not k.startswith("AWS_")}
    return {**env, **extra}


def run_cli(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "imgpipe", *args], cwd=ROOT, env=cli_env(COLUMNS="200", **env),
                          capture_output=True, text=True, timeout=timeout)
