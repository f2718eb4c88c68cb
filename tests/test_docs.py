"""The documentation holds together: every relative link in every tracked Markdown file
reaches a file of the repository, every `#anchor` names a heading of its target (GitHub's
slugs), external links are well-formed (never fetched), and the README stays short."""

import re
import subprocess
import unicodedata
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 300

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_ATX = re.compile(r"^\s{0,3}(#{1,6})(?:\s+(.*?))?\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
# [text](target "title") and ![alt](src); the target may be wrapped in <...>.
_INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]"  # the text, one level of nested brackets allowed
    r"\(\s*(<[^>]*>|[^\s)]*)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)"  # (target "optional title")
)
_REF_DEF = re.compile(r"(?m)^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]*)>")
_HTML_ANCHOR = re.compile(r"<a\s[^>]*\b(?:name|id)=\"([^\"]+)\"", re.I)
_HTML_TAG = re.compile(r"<[^>]+>")
_LINE_ANCHOR = re.compile(r"^L\d+(?:-L\d+)?$")


def github_slug(text: str) -> str:
    """The anchor GitHub gives a heading: its text without Markdown, lower case, without
    punctuation but - and _, each space a -."""
    text = re.sub(r"!?\[((?:[^\[\]]|\[[^\]]*\])*)\]\([^)]*\)", r"\1", text)  # links: their text
    text = _HTML_TAG.sub("", text)
    text = text.strip().lower()
    kept = [c for c in text if c in " -_" or unicodedata.category(c)[0] in "LMN"]
    return "".join(kept).replace(" ", "-")


def _prose_lines(text: str):
    """(line number, line) outside fenced code blocks."""
    fence = None  # the opening fence while inside a block (indented ones too: lists nest them)
    for number, line in enumerate(text.splitlines(), 1):
        if fence is None:
            if match := _FENCE.match(line):
                fence = match.group(1)
                continue
            yield number, line
        elif re.fullmatch(rf"\s*{re.escape(fence[0])}{{{len(fence)},}}\s*", line):
            fence = None


def anchors(text: str) -> set[str]:
    """Every anchor a Markdown text defines: heading slugs (-1, -2 … for repeats) and
    explicit `<a name>`/`id` anchors."""
    found: set[str] = set()
    seen: dict[str, int] = {}

    def add_heading(title: str) -> None:
        slug = github_slug(title)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")

    previous = ""
    for _, line in _prose_lines(text):
        found.update(_HTML_ANCHOR.findall(line))
        if match := _ATX.match(line):
            add_heading(re.sub(r"\s+#+$", "", match.group(2) or ""))
            previous = ""
            continue
        underlines_text = previous.strip() and not previous.lstrip().startswith(("|", "-", "*", ">"))
        if _SETEXT.match(line) and underlines_text:
            add_heading(previous)
            previous = ""
            continue
        previous = line
    return found


def _paragraphs(text: str):
    """(first line number, text) of each run of prose lines: a link may wrap."""
    start, block, last = 0, [], -1
    for number, line in _prose_lines(text):
        if not line.strip() or number != last + 1:
            if block:
                yield start, "\n".join(block)
            start, block = number, []
        if line.strip():
            if not block:
                start = number
            block.append(line)
        last = number
    if block:
        yield start, "\n".join(block)


def links(text: str):
    """(line number, target) of every link outside code blocks and code spans."""
    for start, block in _paragraphs(text):
        block = _CODE_SPAN.sub(lambda m: "\n" * m.group(0).count("\n"), block)
        for pattern in (_INLINE_LINK, _REF_DEF, _AUTOLINK):
            for match in pattern.finditer(block):
                target = match.group(1)
                if target.startswith("<") and target.endswith(">"):
                    target = target[1:-1]
                yield start + block.count("\n", 0, match.start(1)), target


def check_file(path: Path, root: Path = ROOT) -> list[str]:
    """Every broken link of one Markdown file, as 'file:line: target: why'."""
    problems = []
    text = path.read_text("utf-8")
    for number, target in links(text):
        where = f"{path.relative_to(root)}:{number}: {target}"
        parts = urlsplit(target)
        if parts.scheme in ("http", "https"):
            host = parts.hostname or ""
            if " " in target or not ("." in host.strip(".") or host == "localhost"):
                problems.append(f"{where}: not a well-formed URL")
            continue
        if parts.scheme == "mailto":
            continue
        if parts.scheme:
            problems.append(f"{where}: unknown link scheme {parts.scheme!r}")
            continue
        if not parts.path and not parts.fragment:
            problems.append(f"{where}: empty link")
            continue
        if parts.path:
            base = root if parts.path.startswith("/") else path.parent
            resolved = (base / unquote(parts.path).lstrip("/")).resolve()
            if not resolved.is_relative_to(root.resolve()):
                problems.append(f"{where}: leaves the repository")
                continue
            if not resolved.exists():
                problems.append(f"{where}: no such file")
                continue
        else:
            resolved = path
        if parts.fragment:
            anchor = unquote(parts.fragment)
            if resolved.suffix.lower() == ".md":
                if anchor not in anchors(resolved.read_text("utf-8")):
                    target_file = resolved.relative_to(root.resolve())
                    problems.append(f"{where}: no heading with that anchor in {target_file}")
            elif not _LINE_ANCHOR.match(anchor):
                problems.append(f"{where}: an anchor into a file that is not Markdown")
    return problems


def markdown_files(root: Path = ROOT) -> list[Path]:
    """The Markdown files of the repository: tracked, or new and not ignored (every *.md
    outside hidden and build folders when this is not a git checkout)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "*.md"],
            cwd=root, capture_output=True, check=True, text=True,
        ).stdout
        names = [name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        names = [
            str(p.relative_to(root)) for p in root.rglob("*.md")
            if not any(part.startswith(".") or part == "build" for part in p.relative_to(root).parts)
        ]
    return sorted(root / name for name in names if (root / name).is_file())  # not a deletion in progress


# The checker itself: it must find what is broken, or the real check passes for nothing.


def test_github_slugs():
    expected = {
        "Backfills at scale: `reprocess --batch`": "backfills-at-scale-reprocess---batch",
        "Path 1: `chalice deploy` (stages `dev` and `prod`)": "path-1-chalice-deploy-stages-dev-and-prod",
        "How the smart crop decides (`chalicelib/crop.py`)": "how-the-smart-crop-decides-chalicelibcroppy",
        "Cost per 1,000 images": "cost-per-1000-images",
        "See [the API](docs/API.md) — now": "see-the-api--now",
        "snake_case and Ünïcode": "snake_case-and-ünïcode",
    }
    assert {heading: github_slug(heading) for heading in expected} == expected


def test_repeated_headings_get_numbered_anchors_and_code_blocks_have_none():
    text = "# Title\n\n## Notes\n\n```sh\n# not a heading\n```\n\n## Notes\n\nSetext\n------\n\n## Notes\n"
    assert anchors(text) == {"title", "notes", "notes-1", "notes-2", "setext"}


def test_checker_finds_every_kind_of_broken_link(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "OTHER.md").write_text("# Other\n\n## A part\n", "utf-8")
    (tmp_path / "data.yaml").write_text("x: 1\n", "utf-8")
    (tmp_path / "README.md").write_text(
        "# Home\n\n## Here\n\n"
        "Good: [here](#here), [other](docs/OTHER.md#a-part), [file](data.yaml), "
        "[site](https://example.com/x), <https://example.org>, `[code](nowhere.md)`.\n\n"
        "```md\n[in a block](missing-too.md)\n```\n\n"
        "Bad: [gone](docs/GONE.md), [no anchor](#nowhere), [wrong part](docs/OTHER.md#b-part),\n"
        "[odd URL](https:///path), [outside](../../etc/passwd), [yaml part](data.yaml#x), [a wrapped\n"
        "link](docs/NOPE.md).\n\n"
        "[ref]: docs/MISSING.md\n",
        "utf-8",
    )
    problems = check_file(tmp_path / "README.md", tmp_path)
    assert [p.split(": ")[1] for p in problems] == [
        "docs/GONE.md", "#nowhere", "docs/OTHER.md#b-part",
        "https:///path", "../../etc/passwd", "data.yaml#x", "docs/NOPE.md", "docs/MISSING.md",
    ], problems
    assert problems[0].startswith("README.md:11: ") and problems[-2].startswith("README.md:13: ")
    assert all(p.startswith("README.md:") for p in problems)
    assert check_file(tmp_path / "docs" / "OTHER.md", tmp_path) == []


# The repository's own documentation.


def test_every_link_in_every_markdown_file_resolves():
    files = markdown_files()
    assert ROOT / "README.md" in files
    problems = [problem for path in files for problem in check_file(path)]
    assert problems == [], "\n".join(problems)


def test_readme_stays_short():
    lines = (ROOT / "README.md").read_text("utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines; keep it at most {README_MAX_LINES} and move detail to docs/."
    )
