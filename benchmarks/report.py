"""Render results as a plain-text table (console) and as a Markdown table (docs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from benchmarks.results import CaseResult, RunResult

__all__ = ["format_duration", "format_ratio", "markdown_block", "text_table"]

HEADERS = ("case", "ours", "reference", "ratio", "target", "result")


def format_duration(seconds: float | None) -> str:
    """Three significant figures in the nearest unit: ``41.2 µs``, ``5.07 ms``, ``1.20 s``."""
    if seconds is None:
        return "—"
    magnitude = abs(seconds)
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if magnitude >= scale:
            return f"{_three_figures(seconds / scale)} {unit}"
    return f"{_three_figures(seconds / 1e-9)} ns"


def format_ratio(value: float | None) -> str:
    """``1.36×``; small ratios keep three significant figures (``0.000612×``)."""
    if value is None:
        return "—"
    if abs(value) >= 0.01:
        return f"{value:.2f}×"
    return f"{value:.3g}×"


def _three_figures(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _labelled(label: str, seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{label} {format_duration(seconds)}".strip()


def _row(case: CaseResult, note_limit: int | None = None) -> tuple[str, ...]:
    note = " ".join(case.note.split())
    if note_limit is not None and len(note) > note_limit:
        note = note[: note_limit - 1] + "…"
    result = f"{case.status}: {note}" if note else case.status
    # A group may show its figures in other units (e.g. requests/s): details["display"].
    display: dict[str, str] = case.details.get("display", {})
    return (
        f"{case.group}: {case.case}",
        display.get("measured") or _labelled(case.measured_label, case.measured),
        display.get("reference") or _labelled(case.reference_label, case.reference),
        format_ratio(case.ratio),
        case.target.description if case.target else "— (for context)",
        result,
    )


def text_table(cases: Sequence[CaseResult], note_limit: int = 110) -> str:
    """A fixed-width table for the terminal; notes longer than ``note_limit`` are cut."""
    rows = [HEADERS, *(_row(case, note_limit) for case in cases)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(HEADERS))]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_block(run: RunResult, group: str) -> str:
    """The Markdown written between a group's markers: provenance lines, then the table."""
    machine: dict[str, Any] = run.machine
    lines = [
        f"Command: `{run.command}`  ",
        f"Date: {run.started_utc}  ",
        f"Machine: {machine.get('summary', 'unknown')}",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join(["---"] * len(HEADERS)) + "|",
    ]
    for case in run.cases_of(group):
        lines.append("| " + " | ".join(_markdown_cell(cell) for cell in _row(case)) + " |")
    return "\n".join(lines)
