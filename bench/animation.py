"""`python -m bench.animation [--photos DIR]`: animated sources, bytes and CPU per source.

The issue's bound: every animated rendition at most the source's bytes, and at
most 5 s of CPU (all threads) per animated source for the default outputs.
"""

import argparse
import statistics
import time
from pathlib import Path

from chalicelib.config import Settings
from chalicelib.imaging import process_image, rendition_outputs

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = rendition_outputs(Settings("in", "out", "table"))
ROUNDS = 3


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.animation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", default=str(ROOT.parent / "shared" / "corpus" / "photos"))
    args = parser.parse_args()
    sources = sorted(p for p in Path(args.photos).glob("*") if p.suffix.lower() in (".gif", ".webp"))
    if not sources:
        raise SystemExit(f"No GIF or WebP files in {args.photos}: pass --photos DIR.")
    print("| source | frames | source KB | largest animated rendition KB | all renditions KB | "
          "CPU s, median of 3 | within bounds |")
    print("|---|---|---|---|---|---|---|")
    for path in sources:
        data = path.read_bytes()
        cpu = []
        for _ in range(ROUNDS):
            started = time.process_time()
            result = process_image(data, OUTPUTS, 100_000_000)
            cpu.append(time.process_time() - started)
        if result.source.frames < 2:
            continue
        webp = [len(r.data) for r in result.renditions if r.format == "webp"]
        total = sum(len(r.data) for r in result.renditions if r.same_as is None)
        ok = max(webp) <= len(data) and statistics.median(cpu) <= 5.0
        print(f"| {path.name} | {result.source.frames} | {len(data) / 1024:.0f} | {max(webp) / 1024:.0f} | "
              f"{total / 1024:.0f} | {statistics.median(cpu):.2f} | {'yes' if ok else 'NO'} |")


if __name__ == "__main__":
    main()
