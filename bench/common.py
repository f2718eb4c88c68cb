"""What the bench scripts share: where the checkout and the cache are, which files
count as photos, the environment app.py needs, and what a function's start costs
(`cold_start`: importing app; `package_size`: the Lambda package).
"""

import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache"
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".tif", ".tiff", ".webp", ".avif", ".mpo", ".heic"}


# What app.py needs to be imported at all, as a deployed function has it.
APP_ENV = {"INPUT_BUCKET": "in", "OUTPUT_BUCKET": "out", "STATUS_TABLE": "t",
           "AWS_DEFAULT_REGION": "us-east-1"}


def cold_start(runs: int = 5) -> dict:
    """Median seconds for `import app` in a fresh interpreter (and imaging alone)."""
    env = {**os.environ, **APP_ENV}
    result = {}
    for module in ("app", "chalicelib.imaging"):
        code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
        times = [float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                                      capture_output=True, text=True, check=True).stdout)
                 for _ in range(runs)]
        result[f"import_{module}_ms"] = round(statistics.median(times) * 1000, 1)
    return result


def package_size() -> dict:
    """Size of requirements.txt installed for Lambda (python3.12 on Amazon Linux
    2023, glibc 2.34, so manylinux_2_34 and older wheels, cp312): a proxy
    for `chalice package`, which is too slow to run here. Also proves the
    pillow-heif wheel imports and decodes from that directory alone."""
    requirements = (ROOT / "requirements.txt").read_bytes()
    target = CACHE / ("lambda-" + hashlib.sha256(requirements).hexdigest()[:12])
    if not target.exists():
        platforms = [f"--platform=manylinux_{v}_x86_64" for v in ("2_34", "2_28", "2_17")]
        got = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target),
                              *platforms, "--implementation", "cp", "--python-version", "3.12",
                              "--only-binary=:all:", "-r", str(ROOT / "requirements.txt")],
                             capture_output=True, text=True)
        if got.returncode:
            shutil.rmtree(target, ignore_errors=True)
            return {"error": got.stderr.strip()[-500:]}
    runtime = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
    total = runtime_bytes = 0
    for file in target.rglob("*"):
        if file.is_file():
            size = file.stat().st_size
            total += size
            if file.relative_to(target).parts[0].split("-")[0] in runtime:
                runtime_bytes += size
    with tempfile.TemporaryDirectory() as tmp:
        zipped = Path(shutil.make_archive(str(Path(tmp) / "pkg"), "zip", target)).stat().st_size
    check = ("import io, sys; sys.path.insert(0, sys.argv[1]); import pillow_heif; from PIL import Image;"
             "pillow_heif.register_heif_opener(); b = io.BytesIO();"
             "Image.new('RGB', (64, 48), 'red').save(b, 'HEIF'); b.seek(0);"
             "im = Image.open(b); im.load(); print(im.size, pillow_heif.__version__)")
    imported = subprocess.run([sys.executable, "-I", "-S", "-c", check, str(target)],
                              capture_output=True, text=True)
    return {
        "method": "pip install --target of requirements.txt (manylinux <= 2_34, cp312)",
        "unzipped_mib": round(total / 2**20, 1),
        "unzipped_without_boto3_mib": round((total - runtime_bytes) / 2**20, 1),
        "zipped_mib": round(zipped / 2**20, 1),
        "heif_import_check": imported.stdout.strip() or imported.stderr.strip()[-300:],
    }
