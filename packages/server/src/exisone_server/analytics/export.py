"""An analytics report as CSV, every cell safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would be read as
a formula by spreadsheet programs (CSV injection: a product name or a version reported by a
client is text anyone could choose), so it gets a leading single quote.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from .report import KINDS, AnalyticsReport

__all__ = ["CSV_COLUMNS", "report_csv", "safe_cell"]

CSV_COLUMNS = ("day", "product", "version", "country", *KINDS)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """``value`` as CSV cell text that no spreadsheet evaluates."""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _lines(report: AnalyticsReport) -> Iterable[list[str]]:
    yield list(CSV_COLUMNS)
    for row in report.rows:
        cells: list[object] = [row.day.isoformat(), row.product, row.version, row.country]
        cells += [getattr(row.figures, kind) for kind in KINDS]
        yield [safe_cell(cell) for cell in cells]


def report_csv(report: AnalyticsReport) -> str:
    """One line per day, product, version and country of the report."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(_lines(report))
    return out.getvalue()
