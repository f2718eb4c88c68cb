"""`python -m bench.startup`: how long each CLI command takes to start, and `import app`.

Median of fresh interpreters (`--runs`): CPU time (user + system, from
getrusage of the child), which the shared machine's load inflates least, and
wall time, as a user sees it on an idle machine. Targets are issue 12's.
`status` asks a port where nothing listens, so it measures the command's own start, not a stack. Then the Lambda package's
size (bench.common.package_size: pip install --target for Lambda, zipped).
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

from bench.common import APP_ENV, ROOT, cold_start, package_size
from imgpipe.stackprocess import free_port

TARGET_MS = {"resize --help": 250, "status --help": 250, "status (no stack)": 250}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def command_ms(args: list[str], runs: int) -> tuple[float, float]:
    """(CPU ms, wall ms), medians."""
    cpu, wall = [], []
    for _ in range(runs):
        started, cpu_before = time.perf_counter(), _children_cpu()
        subprocess.run([sys.executable, "-m", "imgpipe", *args], cwd=ROOT, capture_output=True)
        wall.append(time.perf_counter() - started)
        cpu.append(_children_cpu() - cpu_before)
    return statistics.median(cpu) * 1000, statistics.median(wall) * 1000


IMPORTS = {
    "python -c pass": "pass",
    "import boto3": "import boto3",
    "import boto3, chalice": "import boto3, chalice.app",
    "import PIL.Image": "import PIL.Image",
    "import app": "import app",  # the API function's start: no Pillow (app.get_pipeline imports it)
    "import app + imaging": "import app, chalicelib.pipeline",  # what the resize function loads
}


def import_cpu(runs: int) -> dict[str, float]:
    """CPU ms of fresh interpreters importing each of IMPORTS, interleaved per round:
    what `import app` costs beyond boto3, which every function needs."""
    env = {**os.environ, **APP_ENV}
    cpu: dict[str, list[float]] = {name: [] for name in IMPORTS}
    for _ in range(runs):
        for name, code in IMPORTS.items():
            before = _children_cpu()
            subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
            cpu[name].append((_children_cpu() - before) * 1000)
    return {f"{name} (CPU)": statistics.median(values) for name, values in cpu.items()}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-package", action="store_true", help="skip the package size")
    args = parser.parse_args()
    api = f"http://127.0.0.1:{free_port()}"
    commands = {
        "--help": ["--help"],
        "resize --help": ["resize", "--help"],
        "status --help": ["status", "--help"],
        "status (no stack)": ["status", "--api", api, "--limit", "1"],
        "run --help": ["run", "--help"],
    }
    print(f"start-up, median of {args.runs} fresh processes (load {os.getloadavg()[0]:.2f})")
    print(f"{'command':<26} {'CPU ms':>7} {'wall ms':>8}  target (CPU)")
    for name, argv in commands.items():
        cpu, wall = command_ms(argv, args.runs)
        target = TARGET_MS.get(name)
        verdict = f"≤ {target} ms: {'met' if cpu <= target else 'NOT met'}" if target else ""
        print(f"{'imgpipe ' + name:<26} {cpu:>7.0f} {wall:>8.0f}  {verdict}")
    cold = cold_start(args.runs)
    print(f"{'import app (wall, in-process)':<26} {'':>7} {cold['import_app_ms']:>8.0f}  ≤ 150 ms: "
          f"{'met' if cold['import_app_ms'] <= 150 else 'NOT met'}")
    for name, ms in import_cpu(args.runs).items():
        print(f"{name:<26} {ms:>7.0f}")
    if not args.no_package:
        package = package_size()
        print("Lambda package: " + ", ".join(f"{k} {v}" for k, v in package.items()))


if __name__ == "__main__":
    main()
