"""The CLI's CSV files: one writer, and every cell made safe to open in a spreadsheet.

Exported licenses carry text that end users and buyers chose (hardware IDs, e-mails, notes,
company names, versions). A spreadsheet may run a cell that starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return as a formula, so such a cell is written with a leading single
quote, as OWASP advises against CSV injection: ``=HYPERLINK(...)`` becomes ``'=HYPERLINK(...)``.
Numbers and booleans the CLI itself formats are written as they are.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any

from ._output import Output

__all__ = ["FORMULA_STARTS", "CsvWriter", "csv_cell", "csv_writer"]

#: First characters that make a spreadsheet read a cell as a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """``value`` as written to a CSV cell: booleans ``true``/``false``, lists joined with commas,
    None empty, text that could start a formula behind a single quote."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        value = ",".join(str(item) for item in value)
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


@contextmanager
def csv_writer(path: str, columns: Sequence[str]) -> Iterator[CsvWriter]:
    """A CSV writer on ``path`` (``-`` = stdout) with the header written; rows flushed each."""
    if path == "-":
        yield CsvWriter(Output.stdout_stream(), columns)
        return
    with open(path, "w", newline="", encoding="utf-8") as handle:
        yield CsvWriter(handle, columns)


class CsvWriter:
    """Writes dict rows (extra keys ignored) through :func:`csv_cell`, flushing each row."""

    def __init__(self, handle: IO[str], columns: Sequence[str]) -> None:
        self._handle = handle
        self._writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        self._writer.writeheader()
        self.rows = 0

    def write(self, row: dict[str, Any]) -> None:
        self._writer.writerow({name: csv_cell(value) for name, value in row.items()})
        self._handle.flush()
        self.rows += 1
