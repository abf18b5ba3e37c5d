"""The only place the CLI writes to the terminal: rich tables by default, JSON with ``--json``.

* Results go to stdout: a rich table/panel, or (``--json``) one JSON document and nothing else.
* Errors go to stderr as one line: ``error: <message>``, or with ``--json``
  ``{"error": <code>, "message": <text>, ...}``.
* Notes and progress bars go to stderr, and only without ``--json``.

Server text is shown with ``rich.text.Text`` so that ``[brackets]`` in it are never markup.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO, Any, Callable

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

__all__ = ["Output"]

Row = Sequence[Any]


def _cell(value: Any) -> Text:
    if value is None:
        return Text("-", style="dim")
    if isinstance(value, bool):
        return Text("yes" if value else "no")
    if isinstance(value, (list, tuple)):
        return Text(", ".join(str(item) for item in value) or "-")
    return Text(str(value))


class Output:
    """Writes one invocation's results (stdout) and errors (stderr)."""

    def __init__(self, as_json: bool = False) -> None:
        self.as_json = as_json

    # Consoles are made per call: the CLI runner of the tests swaps sys.stdout / sys.stderr.
    def _stdout(self) -> Console:
        return Console(file=sys.stdout, highlight=False, soft_wrap=True)

    def _stderr(self) -> Console:
        return Console(file=sys.stderr, highlight=False, soft_wrap=True)

    @staticmethod
    def stdout_stream() -> IO[str]:
        """stdout for data written by others (``--csv -``)."""
        return sys.stdout

    # -- results -------------------------------------------------------------------------------

    def json(self, data: Any) -> None:
        """``data`` as indented JSON on stdout."""
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False))

    def value(self, text: str, data: Any) -> None:
        """A bare value (a hardware ID, an offline code): ``text`` as is, or ``data`` as JSON."""
        if self.as_json:
            self.json(data)
        else:
            click.echo(text)

    def record(
        self, data: Any, title: str, fields: Sequence[tuple[str, Any]], style: str = ""
    ) -> None:
        """One result: a two-column table of ``fields`` (label, value), or ``data`` as JSON."""
        if self.as_json:
            self.json(data)
            return
        table = Table(title=title, title_style=style or "bold", show_header=False, box=None)
        table.add_column(style="bold")
        table.add_column()
        for label, value in fields:
            table.add_row(Text(label), _cell(value))
        self._stdout().print(table)

    def table(
        self,
        data: Any,
        columns: Sequence[str],
        rows: Sequence[Row],
        *,
        title: str | None = None,
        caption: str | None = None,
        whole: Sequence[str] = (),
    ) -> None:
        """Rows under ``columns``, or ``data`` as JSON. Columns in ``whole`` are never cut."""
        if self.as_json:
            self.json(data)
            return
        table = Table(title=title, caption=caption)
        cells = [[_cell(value) for value in row] for row in rows]
        for index, column in enumerate(columns):
            if column in whole:  # never shortened: the column gets its longest value's width
                width = max([len(row[index]) for row in cells] + [len(column)])
                table.add_column(column, no_wrap=True, min_width=width)
            else:
                table.add_column(column, overflow="fold")
        for row in cells:
            table.add_row(*row)
        self._stdout().print(table)

    def success(self, message: str, data: Any) -> None:
        """A short confirmation (stdout), or ``data`` as JSON."""
        if self.as_json:
            self.json(data)
        else:
            self._stdout().print(Text(message, style="green"))

    def note(self, message: str) -> None:
        """Extra information for people (stderr); nothing with ``--json``."""
        if not self.as_json:
            self._stderr().print(Text(message, style="dim"))

    # -- errors --------------------------------------------------------------------------------

    def error(self, code: str, message: str, extra: Mapping[str, Any] | None = None) -> None:
        """One line on stderr: ``error: message`` or the JSON error object."""
        if self.as_json:
            body = {"error": code, "message": message, **(extra or {})}
            click.echo(json.dumps(body, ensure_ascii=False), err=True)
        else:
            click.echo(f"error: {' '.join(message.split())}", err=True)

    # -- progress ------------------------------------------------------------------------------

    @contextmanager
    def progress(self, total: int, label: str) -> Iterator[Callable[[], None]]:
        """A progress bar on stderr for ``total`` steps; yields ``advance()``.

        Shown only without ``--json``, when stderr is a terminal and ``total`` is above 1.
        """
        console = self._stderr()
        enabled = not self.as_json and total > 1 and console.is_terminal
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not enabled,
            transient=False,
        ) as bar:
            task = bar.add_task(label, total=total)
            yield lambda: bar.advance(task)
