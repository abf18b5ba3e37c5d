"""The docs are reference pages: no dated readings, no documents from outside the repository,
and the benchmark tables stay where the harness regenerates them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from benchmarks.docs_table import begin_marker, end_marker, replace_block
from benchmarks.registry import all_groups

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    [
        *(ROOT / "docs").rglob("*.md"),
        ROOT / "README.md",
        *(ROOT / "examples").glob("README.md"),
        *(ROOT / "examples").glob("*/README.md"),
    ]
)

#: A lab notebook's lines: times of day, sessions, dated runs.
_DATE = r"20[0-9]{2}-[0-9]{2}-[0-9]{2}"
DATED = re.compile(
    rf"\b(?:at|on) [0-9]{{2}}:[0-9]{{2}}\b|this session|\b{_DATE} (?:run|reading)"
    r"|\b(?:this|that) (?:morning|afternoon|hour)\b"
    rf"|\b(?:on|since|until|before|after) {_DATE}\b|\({_DATE}\)",
    re.I,
)
#: Documents that are not in the repository: the protocol notes and their sections, the stack's
#: notes, issue numbers of another tracker.
OUTSIDE = re.compile(r"reference §|§ ?[0-9]|\bstack\.md\b|\bissue [0-9]+\b", re.I)
#: Things that were removed from the code (a page may say that they are gone).
GONE = re.compile(r"ValidateEdge|FastValidateMiddleware|fast_validate\.py|test_fast_validate")


def _lines(path: Path) -> list[tuple[int, str]]:
    return list(enumerate(path.read_text(encoding="utf-8").splitlines(), start=1))


@pytest.mark.parametrize("page", PAGES, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_the_page_has_no_dated_readings(page: Path) -> None:
    found = [f"{number}: {line}" for number, line in _lines(page) if DATED.search(line)]

    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "page", [*PAGES, ROOT / "CHANGELOG.md"], ids=lambda path: path.relative_to(ROOT).as_posix()
)
def test_the_page_cites_nothing_outside_the_repository(page: Path) -> None:
    found = [f"{number}: {line}" for number, line in _lines(page) if OUTSIDE.search(line)]

    assert not found, "\n".join(found)


def test_no_page_names_code_that_is_gone() -> None:
    found = [
        f"{page.relative_to(ROOT)}:{number}: {line}"
        for page in PAGES
        for number, line in _lines(page)
        if GONE.search(line) and "gone" not in line
    ]

    assert not found, "\n".join(found)


@pytest.mark.parametrize("group", list(all_groups()))
def test_each_benchmark_table_sits_between_its_markers_with_its_command(group: str) -> None:
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    begin, end = begin_marker(group), end_marker(group)

    assert page.count(begin) == 1 and page.count(end) == 1
    block = page[page.index(begin) + len(begin) : page.index(end)]
    assert block.lstrip().startswith(f"Command: `.venv/bin/python -m benchmarks --only {group}")
    assert "| case | ours | reference | ratio | target | result |" in block
    # A future run replaces the block in place, leaving the text around it as it is.
    rewritten = replace_block(page, group, "NEW TABLE")
    assert rewritten.replace(f"{begin}\nNEW TABLE\n{end}", "") == page.replace(
        page[page.index(begin) : page.index(end) + len(end)], ""
    )


def test_no_source_file_cites_notes_outside_the_repository() -> None:
    sources = [
        path
        for folder in ("packages", "benchmarks", "examples", "scripts", "tests")
        for path in (ROOT / folder).rglob("*.py")
        if path != Path(__file__) and ".venv" not in path.parts
    ]
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sources
        for number, line in _lines(path)
        if OUTSIDE.search(line)
    ]

    assert not found, "\n".join(found)
