"""``exisone-server db copy``, ``backup`` and ``restore``."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from ..config import Settings
from .backup import (
    BackupError,
    backup_postgres,
    backup_sqlite,
    restore_postgres,
    restore_sqlite,
    sqlite_file,
)
from .copy import CopyError, CopyReport, copy_database

__all__ = ["backup", "db", "restore"]

errors = Console(stderr=True)


def _print_report(report: CopyReport) -> None:
    """One line per table (plain text, whatever the terminal's width)."""
    width = max(len(item.table) for item in report.source)
    click.echo(f"{'table':<{width}}  {'source':>8}  {'target':>8}  sha-256 (source)  same")
    for source, target in zip(report.source, report.target, strict=True):
        same = "yes" if source == target else "NO"
        click.echo(
            f"{source.table:<{width}}  {source.rows:>8}  {target.rows:>8}  "
            f"{source.checksum[:16]}  {same}"
        )


@click.group()
def db() -> None:
    """Move the data between databases."""


@db.command("copy")
@click.option("--from", "source", required=True, help="Database URL to copy from (SQLite).")
@click.option("--to", "target", required=True, help="Database URL to copy into (PostgreSQL).")
@click.option(
    "--force",
    is_flag=True,
    help="Copy into a PostgreSQL target that holds rows: its tables are emptied first.",
)
@click.pass_context
def db_copy(context: click.Context, source: str, target: str, force: bool) -> None:
    """Copy every row into another database (migrated first), ids kept, then compare the two
    databases' row counts and checksums table by table."""
    settings: Settings = context.obj
    try:
        report = copy_database(source, target, data_dir=settings.data_dir, replace=force)
    except (CopyError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    _print_report(report)
    rows = sum(item.rows for item in report.target)
    if not report.matches:
        raise click.ClickException("the target differs from the source (see the table above)")
    errors.print(f"[green]Copied {rows} rows in {len(report.target)} tables; both sides match.[/]")


@click.command()
@click.option("--to", "destination", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
@click.pass_context
def backup(context: click.Context, destination: Path, force: bool) -> None:
    """Back the database up into a file (SQLite: online, while the server runs;
    PostgreSQL: pg_dump's custom format)."""
    settings: Settings = context.obj
    database = sqlite_file(settings.database_url)
    try:
        if database is not None:
            backup_sqlite(database, destination, replace=force)
        else:
            backup_postgres(settings.database_url, destination, replace=force)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    errors.print(f"[green]Backed up into {destination}.[/]")


@click.command()
@click.option(
    "--from",
    "backup_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A file made by `exisone-server backup`.",
)
@click.pass_context
def restore(context: click.Context, backup_file: Path) -> None:
    """Replace the database's contents by a backup's (stop the server first)."""
    settings: Settings = context.obj
    database = sqlite_file(settings.database_url)
    try:
        if database is not None:
            restore_sqlite(backup_file, database)
        else:
            restore_postgres(backup_file, settings.database_url)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    errors.print(f"[green]Restored from {backup_file}.[/]")
