"""One implementation in its own process, so CPU pinning, thread counts and
peak RSS belong to it alone.

    python -m bench.worker IMPL THREADS            # JSON lines on stdin/stdout
    python -m bench.worker IMPL THREADS --once PATH WORKLOAD   # peak RSS of one run
"""

import json
import sys
import time
from pathlib import Path

from bench import impls


def _rss_mib() -> float:
    """Peak RSS of this process. Not getrusage's ru_maxrss: a child inherits
    its parent's value across fork, so it would report the bench's own peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # KiB
    return float("nan")


def run_one(impl: str, path: str, workload: str, save: str | None = None) -> dict:
    data = Path(path).read_bytes()
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        outputs = impls.IMPLEMENTATIONS[impl](data, workload)
    except Exception as exc:  # report, so one exotic file does not end the run
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if save:
        for name, fmt, _, _, encoded in outputs:
            Path(save, f"{name}.{fmt}").write_bytes(encoded)
    return {
        "wall_ms": wall * 1000,
        "cpu_ms": cpu * 1000,
        "outputs": [[name, fmt, w, h, len(encoded)] for name, fmt, w, h, encoded in outputs],
    }


def main(argv: list[str]) -> None:
    impl, threads = argv[0], int(argv[1])
    impls.configure(threads)
    if impl == "vips":
        import pyvips  # noqa: F401  (load libvips before the baseline RSS)
    else:
        import PIL.Image  # noqa: F401
    if argv[2:3] == ["--once"]:
        base = _rss_mib()
        result = run_one(impl, argv[3], argv[4])
        print(json.dumps({**result, "rss_base_mib": base, "rss_peak_mib": _rss_mib()}))
        return
    for line in sys.stdin:
        request = json.loads(line)
        print(json.dumps(run_one(impl, **request)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
