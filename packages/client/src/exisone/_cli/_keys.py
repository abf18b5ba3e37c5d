"""Publisher commands: keys generate, keys list, keys export (token permission ``generate``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

from .._exceptions import ExisOneError
from ._csv import CsvWriter, csv_writer
from ._errors import CliError, describe
from ._jsonable import date_text
from ._publisher import iter_licenses, list_licenses
from ._state import common_options, get_state

__all__ = ["keys"]

GENERATED_COLUMNS = ("key", "email", "product", "expiration", "isCorporate", "maxSeats")
EXPORT_COLUMNS = (
    "activationKey",
    "email",
    "productName",
    "status",
    "expirationDate",
    "isCorporate",
    "maxSeats",
    "currentSeats",
    "hardwareId",
    "activationDate",
    "createdAt",
    "planId",
    "version",
    "corporateName",
    "note",
)
STATUSES = ("active", "expired", "suspended", "revoked")


@click.group()
def keys() -> None:
    """Generate, list and export activation keys (licenses)."""


def _filters(
    product: str | None, email: str | None, status: str | None, hwid: str | None, search: str | None
) -> dict[str, str | None]:
    return {
        "productName": product,
        "email": email,
        "status": status,
        "hardwareId": hwid,
        "q": search,
    }


_filter_options = (
    click.option("--product", metavar="NAME", help="Product name contains NAME."),
    click.option("--email", metavar="TEXT", help="E-mail contains TEXT."),
    click.option("--status", type=click.Choice(STATUSES), help="Only licenses in this state."),
    click.option("--hwid", metavar="ID", help="Only licenses on which this device holds a seat."),
    click.option("--search", metavar="TEXT", help="Key, e-mail, note or product contains TEXT."),
)


def filter_options(function: Any) -> Any:
    for option in reversed(_filter_options):
        function = option(function)
    return function


@keys.command("generate")
@click.option("--product", metavar="NAME", help="Product name [EXISONE_PRODUCT].")
@click.option("--count", type=click.IntRange(1, 100_000), default=1, show_default=True)
@click.option("--email", required=True, help="The buyer's e-mail address (every key).")
@click.option("--plan", "plan_id", type=int, metavar="ID", help="Plan id (validity, features).")
@click.option("--days", type=click.IntRange(0, 36_500), help="Validity in days (0 = perpetual).")
@click.option("--csv", "csv_path", metavar="FILE", help="Write the keys as CSV (- = stdout).")
@common_options
@click.pass_context
def generate(
    context: click.Context,
    product: str | None,
    count: int,
    email: str,
    plan_id: int | None,
    days: int | None,
    csv_path: str | None,
) -> None:
    """Create COUNT new licenses; print them, or write them to a CSV file.

    Without --plan or --days the product's default plan (or default validity) applies. The CSV
    is written row by row: after an error it holds every key created before it.
    """
    state = get_state(context)
    if plan_id is not None and days is not None:
        raise click.UsageError("give --plan or --days, not both")
    if csv_path == "-" and state.as_json:
        raise click.UsageError("--csv - and --json both write to stdout; choose one")
    product_name = product or state.require("product", "--product")
    client = state.client(context)
    created: list[dict[str, Any]] = []
    with (
        _maybe_csv(csv_path, GENERATED_COLUMNS) as writer,
        state.output.progress(count, "Generating keys") as advance,
    ):
        for _ in range(count):
            try:
                details = client.generate_activation_key_details(product_name, email, plan_id, days)
            except ExisOneError as error:
                raise _partial(error, created, count, csv_path, state) from error
            row = {
                "key": details.activation_key,
                "email": email,
                "product": product_name,
                "expiration": date_text(details.expiration_date),
                "isCorporate": details.is_corporate,
                "maxSeats": details.max_seats,
            }
            created.append(row)
            if writer is not None:
                writer.write(row)
            advance()
    if csv_path == "-":
        return
    if csv_path and not state.as_json:
        state.output.success(f"{len(created)} key(s) written to {csv_path}", created)
        return
    state.output.table(
        created,
        ["Key", "E-mail", "Product", "Expires", "Corporate", "Max seats"],
        [
            [
                *_values(row, GENERATED_COLUMNS[:3]),
                _day(row["expiration"]),
                *_values(row, GENERATED_COLUMNS[4:]),
            ]
            for row in created
        ],
        title=f"{len(created)} new key(s)",
        whole=["Key"],
    )


@contextmanager
def _maybe_csv(path: str | None, columns: Sequence[str]) -> Iterator[CsvWriter | None]:
    if not path:
        yield None
        return
    with csv_writer(path, columns) as writer:
        yield writer


def _partial(
    error: ExisOneError, created: list[dict[str, Any]], count: int, path: str | None, state: Any
) -> CliError:
    failure = describe(error, state.setting("base_url"))
    if not created:
        return failure
    where = f"; they are in {path}" if path and path != "-" else ""
    keys_made = ", ".join(row["key"] for row in created) if not path else ""
    listing = f": {keys_made}" if keys_made else ""
    failure.message = (
        f"{failure.message} — stopped after {len(created)} of {count} keys{where}{listing}"
    )
    failure.extra["generated"] = [row["key"] for row in created]
    return failure


@keys.command("list")
@filter_options
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--page-size", type=click.IntRange(1, 100), default=50, show_default=True)
@common_options
@click.pass_context
def list_(
    context: click.Context,
    product: str | None,
    email: str | None,
    status: str | None,
    hwid: str | None,
    search: str | None,
    page: int,
    page_size: int,
) -> None:
    """One page of licenses, newest first (JSON: the server's page object)."""
    state = get_state(context)
    client = state.client(context)
    data = list_licenses(client, _filters(product, email, status, hwid, search), page, page_size)
    items: list[dict[str, Any]] = data["items"]
    rows = [
        [
            item.get("activationKey"),
            item.get("email"),
            item.get("productName"),
            item.get("status"),
            _day(item.get("expirationDate")),
            _seats(item),
        ]
        for item in items
    ]
    caption = (
        f"page {data.get('page', page)} of {data.get('totalPages', '?')}, "
        f"{data.get('totalCount', len(items))} license(s)"
    )
    state.output.table(
        data,
        ["Key", "E-mail", "Product", "Status", "Expires", "Seats"],
        rows,
        caption=caption,
        whole=["Key", "Seats"],
    )


def _values(row: dict[str, Any], names: Sequence[str]) -> list[Any]:
    return [row[name] for name in names]


def _day(moment: str | None) -> str | None:
    """``2049-12-31T23:59:59Z`` → ``2049-12-31`` for tables (CSV and JSON keep the time)."""
    return moment[:10] if moment else moment


def _seats(item: dict[str, Any]) -> str:
    current = item.get("currentSeats", 0)
    if not item.get("isCorporate"):
        return f"{current}/1"
    maximum = item.get("maxSeats")
    return f"{current}/{maximum}" if maximum else f"{current}/unlimited"


@keys.command("export")
@filter_options
@click.option("--csv", "csv_path", required=True, metavar="FILE", help="Output (- = stdout).")
@common_options
@click.pass_context
def export(
    context: click.Context,
    product: str | None,
    email: str | None,
    status: str | None,
    hwid: str | None,
    search: str | None,
    csv_path: str,
) -> None:
    """Every matching license as CSV, paging through the server (100 per request)."""
    state = get_state(context)
    if csv_path == "-" and state.as_json:
        raise click.UsageError("--csv - and --json both write to stdout; choose one")
    client = state.client(context)
    licenses = iter_licenses(client, _filters(product, email, status, hwid, search))
    first = next(licenses, None)
    total = first[1] if first else 0
    with (
        csv_writer(csv_path, EXPORT_COLUMNS) as writer,
        state.output.progress(total, "Exporting licenses") as advance,
    ):
        if first is not None:
            writer.write(first[0])
            advance()
        for item, _ in licenses:
            writer.write(item)
            advance()
    if csv_path != "-":
        data = {"exported": writer.rows, "csv": csv_path}
        state.output.success(f"{writer.rows} license(s) exported to {csv_path}", data)
