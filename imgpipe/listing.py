"""The table `python -m imgpipe status` prints: readable at 80 columns.

The file's name (not its whole key, whose `uploads/<id>/` prefix says
nothing), the size next to the renditions' count, a short id when the terminal is narrow (the full one fits from
120 columns: `status ID` takes the full one), and reasons wrapped at word
boundaries in a column wide enough for a few words.
"""

from rich import box
from rich.table import Table

FULL_ID_FROM_COLUMNS = 120
SHORT_ID = 8


def _when(updated_at: str) -> str:
    """`2026-12-06T02:08:26.123Z` → `12-06 02:08`: the year and seconds are noise here."""
    if len(updated_at) >= 16 and updated_at[10] == "T":
        return f"{updated_at[5:10]} {updated_at[11:16]}"
    return updated_at


def status_table(items: list[dict], width: int) -> Table:
    wide = width >= FULL_ID_FROM_COLUMNS
    names = [item.get("source", {}).get("key", "").rsplit("/", 1)[-1] for item in items]
    # No vertical rules: at 80 columns their characters are a reason's words.
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1), collapse_padding=True,
                  caption=None if wide else
                  f"id: the first {SHORT_ID} characters; `status` with a wider terminal shows them whole")
    table.add_column("status", no_wrap=True, width=len("PROCESSING"))
    # As wide as the longest name up to 24 characters: a name breaks mid-word only past that.
    file_width = min(max(map(len, names), default=4), 24)
    table.add_column("file", overflow="fold", width=file_width)
    # Every width is fixed, the reason's is what is left: left to itself, rich squeezes
    # every column of a table too wide for the terminal (the id too, no_wrap or not).
    fixed = len("PROCESSING") + file_width + 11 + (32 if wide else SHORT_ID) + 2 * 4
    table.add_column("renditions, size / reason", overflow="fold", width=max(16, width - fixed))
    table.add_column("updated", no_wrap=True, width=11)
    table.add_column("image id" if wide else "id", no_wrap=True, width=32 if wide else SHORT_ID)
    for item, name in zip(items, names, strict=True):
        source = item.get("source", {})
        if item.get("error"):
            detail = item["error"]["message"]
        else:
            size = f" · {source['width']}×{source['height']}" if "width" in source else ""
            detail = f"{len(item.get('renditions', []))}{size}"
        image_id = item["image_id"] if wide else item["image_id"][:SHORT_ID]
        table.add_row(item["status"], name, detail, _when(item.get("updated_at", "")), image_id)
    return table
