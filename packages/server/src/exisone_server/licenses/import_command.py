"""``exisone-server license import``: the CLI face of :mod:`.importer`."""

from __future__ import annotations

import json
import time
from typing import IO

import click

from ..config import Settings
from .importer import LicenseImportError, import_licenses, read_license_csv

__all__ = ["license_group"]


@click.group("license")
def license_group() -> None:
    """Licenses (bulk import)."""


@license_group.command("import")
@click.option("--tenant", "tenant_ref", required=True, help="Tenant id or name.")
@click.option("--product", "product_name", required=True, help="Product name.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@click.pass_context
def license_import(
    context: click.Context, tenant_ref: str, product_name: str, as_json: bool, csv_file: IO[str]
) -> None:
    """Import licenses (and their activated devices) from CSV_FILE ('-' for stdin), atomically.

    Columns: activationKey (required), email, expirationDate, maxSeats, hardwareIds (';').
    """
    settings: Settings = context.obj
    started = time.perf_counter()
    try:
        summary = import_licenses(settings, tenant_ref, product_name, read_license_csv(csv_file))
    except LicenseImportError as exc:
        raise click.ClickException(f"{exc}; nothing was imported") from exc
    seconds = round(time.perf_counter() - started, 3)
    if as_json:
        data = {"licenses": summary.licenses, "activations": summary.activations}
        click.echo(json.dumps({**data, "seconds": seconds}))
        return
    click.echo(
        f"Imported {summary.licenses} license(s) and {summary.activations} activation(s) "
        f"in {seconds} s.",
        err=True,
    )
