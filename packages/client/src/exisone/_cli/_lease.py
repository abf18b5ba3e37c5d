"""Floating seats: `lease checkout|heartbeat|release|borrow|verify`.

A CLI process ends after each command, so ``checkout`` leaves the lease held until its TTL
(a script renews it with ``heartbeat`` and gives it back with ``release``); ``borrow`` keeps
the token in the state directory for ``verify`` (local, no network).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .._models import LeaseGrant
from ._errors import EXIT_NOT_VALID
from ._jsonable import date_text, jsonable
from ._license import hwid_option, product_option
from ._state import State, common_options, get_state, public_key_option

__all__ = ["lease"]

version_option = click.option(
    "--version", "app_version", metavar="VERSION", help="Your application's version."
)


@click.group()
def lease() -> None:
    """Floating seats: check out, renew, release, borrow for offline use, verify a token."""


def _show(state: State, grant: LeaseGrant, title: str, extra: dict[str, object]) -> None:
    data = {**jsonable(grant), **extra}
    state.output.record(
        data,
        title,
        [
            ("Lease", grant.lease_id),
            ("Expires", date_text(grant.expires_at)),
            ("TTL (s)", grant.ttl_seconds or None),
            ("Seats in use", f"{grant.seats_in_use} of {grant.max_seats}"),
            ("Features", list(grant.features) or None),
            ("Borrowed", grant.borrowed),
            ("Token", grant.lease_token),
        ],
        style="bold green",
    )


@lease.command("checkout")
@click.argument("key")
@product_option
@version_option
@hwid_option
@click.option("--ttl", type=click.IntRange(min=1), metavar="SECONDS", help="Time to live.")
@common_options
@click.pass_context
def checkout(
    context: click.Context,
    key: str,
    product: str | None,
    app_version: str | None,
    hwid: str | None,
    ttl: int | None,
) -> None:
    """Check a floating seat of license KEY out; it is held until its TTL runs out unless
    renewed with `lease heartbeat` (the same machine checking out again renews it)."""
    state = get_state(context)
    product_name = product or state.require("product", "--product")
    client = state.client(context)
    hardware_id = state.hardware_id(hwid)
    _, call = client._core.lease_checkout(key, hardware_id, product_name, app_version, ttl)
    grant = client._send(call)
    _show(state, grant, "Lease checked out", {"hardwareId": hardware_id})


@lease.command("heartbeat")
@click.argument("lease_id")
@common_options
@click.pass_context
def heartbeat(context: click.Context, lease_id: str) -> None:
    """Renew lease LEASE_ID for another TTL (410 lease_expired once it ran out)."""
    state = get_state(context)
    client = state.client(context)
    grant = client._send(client._core.lease_heartbeat(lease_id, ()))
    _show(state, grant, "Lease renewed", {})


@lease.command("release")
@click.argument("lease_id")
@common_options
@click.pass_context
def release(context: click.Context, lease_id: str) -> None:
    """Give lease LEASE_ID back: its seat is free at once."""
    state = get_state(context)
    client = state.client(context)
    client._send(client._core.lease_release(lease_id))
    state.output.success(f"Released {lease_id}", {"success": True, "leaseId": lease_id})


@lease.command("borrow")
@click.argument("key")
@click.option("--hours", required=True, type=click.IntRange(min=1), help="How long.")
@product_option
@version_option
@hwid_option
@click.option("--out", "out_path", metavar="FILE", help="Also write the token to FILE.")
@common_options
@click.pass_context
def borrow(
    context: click.Context,
    key: str,
    hours: int,
    product: str | None,
    app_version: str | None,
    hwid: str | None,
    out_path: str | None,
) -> None:
    """Check a seat of KEY out for offline use for HOURS; the token is kept in the state
    directory (`lease verify` checks it without a network)."""
    state = get_state(context)
    product_name = product or state.require("product", "--product")
    client = state.client(context)
    hardware_id = state.hardware_id(hwid)
    borrowed = client.borrow(key, hardware_id, product_name, hours, version=app_version)
    if out_path:
        Path(out_path).write_text(borrowed.lease_token + "\n", encoding="utf-8")
        state.output.note(f"lease token written to {out_path}")
    data = jsonable(borrowed)
    data.pop("activationKey", None)
    state.output.record(
        data,
        "Seat borrowed",
        [
            ("Lease", borrowed.lease_id),
            ("Until", date_text(borrowed.expires_at)),
            ("Product", borrowed.product_name),
            ("Hardware ID", borrowed.hardware_id),
            ("Features", list(borrowed.features) or None),
            ("Seats in use", f"{borrowed.seats_in_use} of {borrowed.max_seats}"),
        ],
        style="bold green",
    )


@lease.command("verify")
@click.argument("lease_token", metavar="[TOKEN]", required=False)
@hwid_option
@product_option
@public_key_option
@common_options
@click.pass_context
def verify(
    context: click.Context, lease_token: str | None, hwid: str | None, product: str | None
) -> None:
    """Check a lease TOKEN locally (no network): signature, product, hardware ID, expiry.

    TOKEN may be - (read from stdin); without it, the token borrowed on this machine for
    --product. Exit code 0 when valid, 3 when not.
    """
    state = get_state(context)
    if lease_token == "-":
        lease_token = sys.stdin.read().strip()
    state.require("public_key_file", "--public-key")
    product_name = product or state.require("product", "--product")
    hardware_id = state.hardware_id(hwid)
    client = state.client(context)
    result = client.validate_lease_offline(
        lease_token, hardware_id=hardware_id, product_name=product_name
    )
    data = jsonable(result)
    title = "Lease valid" if result.is_valid else f"Lease not valid ({result.status})"
    state.output.record(
        data,
        title,
        [
            ("Status", str(result.status)),
            ("Problem", result.error_message),
            ("Lease", result.lease_id),
            ("Expires", date_text(result.expires_at)),
            ("Product", result.product_name),
            ("Features", list(result.features) or None),
            ("Borrowed", result.borrowed),
            ("Hardware ID", hardware_id),
        ],
        style="bold green" if result.is_valid else "bold red",
    )
    if not result.is_valid:
        context.exit(EXIT_NOT_VALID)
