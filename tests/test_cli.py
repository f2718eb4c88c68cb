"""`python -m imgpipe upload|status|resize|reprocess`, run as a user would."""

import json
import subprocess
import sys

from PIL import Image

from imgpipe.stackprocess import ROOT
from tests import images
from tests.stack import cli_env, run_cli


def test_resize_loads_no_aws_code():
    """`imgpipe resize` is the no-AWS path: it never imports boto3, botocore or powertools."""
    code = ("import sys, imgpipe.resize; print(sorted({m.split('.')[0] for m in sys.modules}"
            " & {'boto3', 'botocore', 'aws_lambda_powertools'}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=cli_env(), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_resize_a_folder_of_good_and_bad_files(tmp_path):
    folder = tmp_path / "in"
    (folder / "nested").mkdir(parents=True)
    (folder / "photo.jpg").write_bytes(images.jpeg(1200, 900))
    (folder / "nested" / "logo.png").write_bytes(images.png_with_alpha(600, 400))
    (folder / "broken.png").write_bytes(images.truncated(images.png_with_alpha()))
    (folder / "notes.txt").write_text("not an image")
    (folder / "empty.jpg").write_bytes(b"")
    out = tmp_path / "out"

    result = run_cli("resize", str(folder), "--out", str(out))

    assert result.returncode == 1, result.stderr
    assert "2 of 5 images resized" in result.stdout
    for name, code in (("broken.png", "corrupt_image"), ("notes.txt", "unsupported_format"),
                       ("empty.jpg", "empty_file")):
        assert f"{name}: {code}" in result.stdout
    assert Image.open(out / "processed-photo.jpg").size == (800, 600)
    assert Image.open(out / "renditions" / "photo.jpg" / "thumb.webp").size == (320, 320)
    with Image.open(out / "processed-logo.png") as logo:
        assert logo.format == "PNG" and logo.mode == "RGBA"
    assert not (out / "processed-broken.png").exists()


def test_resize_follows_the_configuration(tmp_path):
    source = tmp_path / "a.jpg"
    source.write_bytes(images.jpeg(1000, 500))
    result = run_cli("resize", str(source), "--out", str(tmp_path / "out"), "--jobs", "1",
                     RESIZE_WIDTH="100", RESIZE_HEIGHT="100", RENDITIONS="tiny:10x10:cover", OUTPUT_FORMATS="png")
    assert result.returncode == 0, result.stdout + result.stderr
    assert Image.open(tmp_path / "out" / "processed-a.jpg").size == (100, 50)
    assert sorted(p.name for p in (tmp_path / "out" / "renditions" / "a.jpg").iterdir()) == ["tiny.png"]


def test_resize_names_files_as_the_bucket_does(tmp_path):
    (tmp_path / "anim.gif").write_bytes(images.animation("GIF", frames=3))
    result = run_cli("resize", str(tmp_path / "anim.gif"), "--out", str(tmp_path / "out"), "--jobs", "1",
                     RENDITIONS="")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["processed-anim.gif.webp"]  # says WebP
    with Image.open(tmp_path / "out" / "processed-anim.gif.webp") as anim:
        assert anim.format == "WEBP" and anim.n_frames == 3


def test_upload_and_status(local_stack, tmp_path):
    good, bad = tmp_path / "good one.jpg", tmp_path / "bad.png"
    good.write_bytes(images.jpeg())
    bad.write_bytes(images.truncated(images.png_with_alpha()))

    result = run_cli("upload", str(good), str(bad), "--api", local_stack.api)

    assert result.returncode == 1, result.stderr
    assert "✓" in result.stdout and "bad.png: FAILED corrupt_image" in result.stdout
    assert f"{local_stack.aws_url}/imgpipe-local-output/renditions/uploads/" in result.stdout
    listing = run_cli("status", "--api", local_stack.api, "--status", "COMPLETE")
    assert listing.returncode == 0 and "COMPLETE" in listing.stdout
    image_id = next(line.split("→ ")[1].strip() for line in result.stdout.splitlines() if "→ " in line)
    one = run_cli("status", image_id, "--api", local_stack.api)
    assert json.loads(one.stdout)["status"] == "COMPLETE"


def test_upload_refused_file_exits_nonzero(local_stack, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    result = run_cli("upload", str(notes), "--api", local_stack.api)
    assert result.returncode == 1
    assert "refused, unsupported_media_type" in result.stdout


def test_no_api_there_is_a_sentence_not_a_traceback(tmp_path):
    from imgpipe.stackprocess import free_port

    api = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    photo = tmp_path / "a.jpg"
    photo.write_bytes(images.jpeg())
    for result in (run_cli("status", "--api", api), run_cli("upload", str(photo), "--api", api)):
        assert result.returncode == 1
        said = " ".join((result.stdout + result.stderr).split())  # rich wraps long lines
        assert f"{api} does not answer (Connection refused)" in said
        assert "Traceback" not in said and "Errno" not in said


def test_a_file_name_with_quotes_and_spaces_uploads(local_stack, tmp_path):
    """The form is built by hand now (imgpipe.client.multipart_form): its quoting must hold."""
    odd = tmp_path / 'my "best" photo ü.jpg'
    odd.write_bytes(images.jpeg())
    result = run_cli("upload", str(odd), "--api", local_stack.api)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✓" in result.stdout


def test_reprocess_backfills_after_a_rendition_change(local_stack):
    s3 = local_stack.client("s3")
    s3.put_object(Bucket="imgpipe-local-input", Key="backfill/one.jpg", Body=images.jpeg())
    from tests.test_localstack import record_for_key

    assert len(record_for_key(local_stack, "backfill/one.jpg")["renditions"]) == 7

    args = ("reprocess", "--prefix", "backfill/", "--aws-port", str(local_stack.aws_port))
    dry = run_cli(*args, "--dry-run")
    assert "COMPLETE  backfill/one.jpg" in dry.stdout and "1 objects would be reprocessed" in dry.stdout
    result = run_cli(*args, "--status", "COMPLETE", RENDITIONS="tiny:50x50", OUTPUT_FORMATS="jpeg")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 COMPLETE" in result.stdout
    record = record_for_key(local_stack, "backfill/one.jpg")
    assert [(r["name"], r["width"]) for r in record["renditions"]] == [("default", 400), ("tiny", 50)]
