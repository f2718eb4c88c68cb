"""`status`'s table at 80 columns: the file's name, a short id, reasons wrapped at words."""

from rich.console import Console

from imgpipe.listing import status_table

IMAGE_ID = "4f0c2b7a9e1d4c3b8a6f5e4d3c2b1a09"
FAILED = {
    "image_id": IMAGE_ID, "status": "FAILED", "updated_at": "2026-12-06T02:08:26.123Z",
    "source": {"key": f"uploads/{IMAGE_ID}/holiday-beach-sunset.jpg"},
    "error": {"code": "corrupt_image", "message": "the image data is cut short: the file ends before its last scan"},
}
COMPLETE = {
    "image_id": "0123456789abcdef0123456789abcdef", "status": "COMPLETE", "updated_at": "2026-12-06T02:09:00Z",
    "source": {"key": "uploads/0123456789abcdef0123456789abcdef/cat.png", "width": 4000, "height": 3000},
    "renditions": [{}] * 7,
}


def render(width: int) -> str:
    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(status_table([FAILED, COMPLETE], console.width))
    return console.export_text()


def test_at_80_columns_the_file_name_and_a_short_id_show():
    text = render(80)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "holiday-beach-sunset.jpg" in text  # whole, not broken mid-word
    assert "cat.png" in text and "4000×3000" in text
    assert IMAGE_ID[:8] in text and IMAGE_ID not in text
    assert "uploads/" not in text and "12-06 02:08" in text
    reason_lines = [line for line in lines if "│" in line and any(w in line for w in ("image", "short", "scan"))]
    assert len(reason_lines) <= 4  # wrapped at words over a few lines, not one word a line


def test_a_wide_terminal_shows_the_whole_id():
    assert IMAGE_ID in render(140)
