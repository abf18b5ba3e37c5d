"""Bulk import of existing licenses and their activations (publishers moving keys in).

The input is CSV with a header row; columns (case-insensitive, extra columns ignored):

==================  ==========================================================================
``activationKey``   required; stored normalised (trimmed, upper case), unique on the server
``email``           optional
``expirationDate``  optional ISO 8601 date or date-time (UTC when no offset); empty = perpetual
``maxSeats``        optional; empty = a single-device license, N ≥ 1 = corporate with N seats
``hardwareIds``     optional; the devices already activated, separated by ``;``
==================  ==========================================================================

The import is one transaction (all rows or none) and uses the raw drivers' bulk paths:
``executemany`` on SQLite, ``COPY`` on PostgreSQL; activations are joined to their licenses in
SQL through a staging table, so a million licenses take seconds, not an ORM round trip each.
"""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import islice
from typing import IO, Any

import psycopg
from sqlalchemy.engine import make_url

from exisone.protocol import is_offline_code, parse_datetime

from ..config import Settings
from ..kit.activation_keys import normalize_activation_key
from ..kit.hardware import MAX_HARDWARE_ID_LENGTH, normalize_hardware_id
from ..kit.time import utc_now

__all__ = [
    "ImportSummary",
    "ImportedLicense",
    "LicenseImportError",
    "import_licenses",
    "read_license_csv",
]

BATCH_SIZE = 20_000
MAX_KEY_LENGTH = 64
MAX_EMAIL_LENGTH = 320

_LICENSE_COLUMNS = (
    "tenant_id, product_id, activation_key, email, status, expires_at, activated_at, "
    "is_corporate, max_seats, is_offline, created_at"
)


class LicenseImportError(ValueError):
    """The input cannot be imported (nothing was written); the message says where and why."""


@dataclass(frozen=True)
class ImportedLicense:
    """One license to import, already normalised."""

    activation_key: str
    email: str = ""
    expires_at: datetime | None = None
    max_seats: int | None = None
    hardware_ids: tuple[str, ...] = ()

    @property
    def is_corporate(self) -> bool:
        return self.max_seats is not None


@dataclass(frozen=True)
class ImportSummary:
    licenses: int
    activations: int


def _row(line: int, fields: dict[str, str]) -> ImportedLicense:
    def fail(message: str) -> LicenseImportError:
        return LicenseImportError(f"line {line}: {message}")

    key = normalize_activation_key(fields.get("activationkey") or "")
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable() or " " in key:
        raise fail(f"activationKey must be 1-{MAX_KEY_LENGTH} printable characters, no spaces")
    if is_offline_code(key):
        raise fail("activationKey looks like an offline activation code")
    email = (fields.get("email") or "").strip()
    if len(email) > MAX_EMAIL_LENGTH or not email.isprintable():
        raise fail("email is too long or has control characters")
    expires_text = (fields.get("expirationdate") or "").strip()
    try:
        expires_at = parse_datetime(expires_text) if expires_text else None
    except ValueError:
        raise fail(f"expirationDate {expires_text!r} is not an ISO 8601 date") from None
    seats_text = (fields.get("maxseats") or "").strip()
    try:
        max_seats = int(seats_text) if seats_text else None
    except ValueError:
        raise fail(f"maxSeats {seats_text!r} is not a number") from None
    if max_seats is not None and max_seats < 1:
        raise fail("maxSeats must be at least 1")
    hardware_ids = tuple(
        dict.fromkeys(
            normalize_hardware_id(part)
            for part in (fields.get("hardwareids") or "").split(";")
            if part.strip()
        )
    )
    if any(len(hw) > MAX_HARDWARE_ID_LENGTH or not hw.isprintable() for hw in hardware_ids):
        raise fail(f"hardware IDs have at most {MAX_HARDWARE_ID_LENGTH} printable characters")
    if len(hardware_ids) > (max_seats or 1):
        raise fail(f"{len(hardware_ids)} hardware IDs but {max_seats or 1} seat(s)")
    return ImportedLicense(key, email, expires_at, max_seats, hardware_ids)


def read_license_csv(stream: IO[str]) -> Iterator[ImportedLicense]:
    """Parse and check the CSV rows lazily; :class:`LicenseImportError` names the bad line."""
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
        return
    names = [name.strip().lower() for name in header]
    if "activationkey" not in names:
        raise LicenseImportError("line 1: the header has no activationKey column")
    for values in reader:
        if not any(value.strip() for value in values):
            continue
        yield _row(reader.line_num, dict(zip(names, values)))


def _batches(rows: Iterable[ImportedLicense]) -> Iterator[list[ImportedLicense]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, BATCH_SIZE)):
        yield batch


def import_licenses(
    settings: Settings, tenant: str, product_name: str, rows: Iterable[ImportedLicense]
) -> ImportSummary:
    """Import ``rows`` as licenses of ``product_name`` of ``tenant`` (id or name), atomically."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if not url.database:
            raise LicenseImportError("the SQLite URL names no file")
        return _import_sqlite(url.database, tenant, product_name, rows)
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return _import_postgresql(conninfo, tenant, product_name, rows)


def _product_sql(tenant: str) -> tuple[str, tuple[Any, ...]]:
    by = "t.id = %s" if tenant.strip().isdigit() else "t.name = %s"
    value: Any = int(tenant) if tenant.strip().isdigit() else tenant.strip()
    return (
        "SELECT t.id, p.id FROM tenants t JOIN products p ON p.tenant_id = t.id "
        f"WHERE {by} AND p.name = %s",
        (value,),
    )


def _missing(tenant: str, product_name: str) -> LicenseImportError:
    return LicenseImportError(f"no product {product_name!r} for tenant {tenant!r}")


def _duplicate(exc: Exception) -> LicenseImportError:
    return LicenseImportError(f"an activation key is repeated or already exists ({exc})")


def _sqlite_time(value: datetime | None) -> str | None:
    """SQLAlchemy's SQLite form of a UTC timestamp (naive text)."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat(" ", "microseconds")


def _import_sqlite(
    path: str, tenant: str, product_name: str, rows: Iterable[ImportedLicense]
) -> ImportSummary:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA busy_timeout=15000")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("BEGIN IMMEDIATE")
        try:
            summary = _sqlite_rows(connection, tenant, product_name, rows)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        connection.execute("ANALYZE licenses")
        connection.execute("ANALYZE activations")
        return summary
    finally:
        connection.close()


def _sqlite_rows(
    connection: sqlite3.Connection, tenant: str, product_name: str, rows: Iterable[ImportedLicense]
) -> ImportSummary:
    statement, params = _product_sql(tenant)
    found = connection.execute(statement.replace("%s", "?"), (*params, product_name)).fetchone()
    if found is None:
        raise _missing(tenant, product_name)
    tenant_id, product_id = found
    now = _sqlite_time(utc_now())
    connection.execute(
        "CREATE TEMP TABLE IF NOT EXISTS import_activations (activation_key TEXT, hardware_id TEXT)"
    )
    connection.execute("DELETE FROM import_activations")
    licenses = 0
    try:
        for batch in _batches(rows):
            connection.executemany(
                f"INSERT INTO licenses ({_LICENSE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        tenant_id,
                        product_id,
                        row.activation_key,
                        row.email,
                        "active",
                        _sqlite_time(row.expires_at),
                        now if row.hardware_ids else None,
                        row.is_corporate,
                        row.max_seats,
                        False,
                        now,
                    )
                    for row in batch
                ],
            )
            connection.executemany(
                "INSERT INTO import_activations VALUES (?, ?)",
                [(row.activation_key, hw) for row in batch for hw in row.hardware_ids],
            )
            licenses += len(batch)
    except sqlite3.IntegrityError as exc:
        raise _duplicate(exc) from None
    activations = connection.execute(
        "INSERT INTO activations (license_id, hardware_id, email, is_offline, created_at) "
        "SELECT l.id, s.hardware_id, l.email, 0, ? FROM import_activations s "
        "JOIN licenses l ON l.activation_key = s.activation_key",
        (now,),
    ).rowcount
    connection.execute("DROP TABLE import_activations")
    return ImportSummary(licenses, activations)


def _import_postgresql(
    conninfo: str, tenant: str, product_name: str, rows: Iterable[ImportedLicense]
) -> ImportSummary:
    try:
        with psycopg.connect(conninfo) as connection, connection.transaction():
            summary = _postgresql_rows(connection, tenant, product_name, rows)
    except psycopg.errors.UniqueViolation as exc:
        raise _duplicate(exc) from None
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("ANALYZE licenses")
        connection.execute("ANALYZE activations")
    return summary


def _postgresql_rows(
    connection: psycopg.Connection[Any],
    tenant: str,
    product_name: str,
    rows: Iterable[ImportedLicense],
) -> ImportSummary:
    statement, params = _product_sql(tenant)
    found = connection.execute(statement, (*params, product_name)).fetchone()
    if found is None:
        raise _missing(tenant, product_name)
    tenant_id, product_id = found
    now = utc_now()
    connection.execute(
        "CREATE TEMP TABLE import_activations (activation_key TEXT, hardware_id TEXT) "
        "ON COMMIT DROP"
    )
    licenses = 0
    with connection.cursor() as cursor:
        for batch in _batches(rows):
            with cursor.copy(f"COPY licenses ({_LICENSE_COLUMNS}) FROM STDIN") as copy:
                for row in batch:
                    copy.write_row(
                        (
                            tenant_id,
                            product_id,
                            row.activation_key,
                            row.email,
                            "active",
                            row.expires_at,
                            now if row.hardware_ids else None,
                            row.is_corporate,
                            row.max_seats,
                            False,
                            now,
                        )
                    )
            with cursor.copy("COPY import_activations FROM STDIN") as copy:
                for row in batch:
                    for hw in row.hardware_ids:
                        copy.write_row((row.activation_key, hw))
            licenses += len(batch)
        cursor.execute(
            "INSERT INTO activations (license_id, hardware_id, email, is_offline, created_at) "
            "SELECT l.id, s.hardware_id, l.email, false, %s FROM import_activations s "
            "JOIN licenses l ON l.activation_key = s.activation_key",
            (now,),
        )
        activations = cursor.rowcount
    return ImportSummary(licenses, activations)
