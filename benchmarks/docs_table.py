"""Replace one group's block between marker comments in docs/benchmarks.md."""

from __future__ import annotations

from pathlib import Path

__all__ = ["begin_marker", "end_marker", "replace_block", "update_file"]


_MARKER_PREFIX = "<!-- benchmarks:"


def begin_marker(group: str) -> str:
    """The comment that opens a group's generated block."""
    return f"{_MARKER_PREFIX}{group}:begin -->"


def end_marker(group: str) -> str:
    """The comment that closes a group's generated block."""
    return f"{_MARKER_PREFIX}{group}:end -->"


def replace_block(document: str, group: str, block: str) -> str:
    """Put ``block`` between the group's markers, replacing what was there.

    A group without markers yet gets a new section at the end of the document, so a new
    group needs no hand-edit of the docs. Markers out of order or repeated are an error, and
    so is another group's marker between them (a bad merge nests blocks; replacing the outer
    one would delete the inner one).
    """
    begin, end = begin_marker(group), end_marker(group)
    generated = f"{begin}\n{block.strip()}\n{end}"
    count_begin, count_end = document.count(begin), document.count(end)
    if count_begin == 0 and count_end == 0:
        separator = "" if document.endswith("\n\n") or not document else "\n"
        if document and not document.endswith("\n"):
            separator = "\n\n"
        return f"{document}{separator}## Results: {group}\n\n{generated}\n"
    if count_begin != 1 or count_end != 1:
        raise ValueError(f"expected one {begin} and one {end} in the document")
    start, stop = document.index(begin), document.index(end)
    if stop < start:
        raise ValueError(f"{end} comes before {begin}")
    if _MARKER_PREFIX in document[start + len(begin) : stop]:
        raise ValueError(f"another group's marker lies between {begin} and {end}")
    return document[:start] + generated + document[stop + len(end) :]


def update_file(path: Path, group: str, block: str) -> None:
    """Rewrite ``path`` with the group's block replaced (the file must exist)."""
    text = path.read_text(encoding="utf-8")
    path.write_text(replace_block(text, group, block), encoding="utf-8")
