"""End-user commands: hwid, activate, validate, deactivate, seats, ticket."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from ._errors import EXIT_NOT_VALID, CliError
from ._jsonable import date_text, jsonable
from ._state import common_options, get_state

__all__ = ["COMMANDS"]

product_option = click.option(
    "--product", metavar="NAME", help="Product name [EXISONE_PRODUCT, config `product`]."
)
hwid_option = click.option(
    "--hwid", metavar="ID", help="Hardware ID [EXISONE_HARDWARE_ID; default: this machine's]."
)


@click.command()
@click.option("--legacy", is_flag=True, help="The ID of exisone-client 0.10.0 (old activations).")
@common_options
@click.pass_context
def hwid(context: click.Context, legacy: bool) -> None:
    """Print the hardware ID of this machine (or the configured override)."""
    state = get_state(context)
    override = state.setting("hardware_id")
    value = state.hardware_id(None, legacy)
    source = "override" if override else ("legacy" if legacy else "stable")
    state.output.value(value, {"hardwareId": value, "source": source})


@click.command()
@click.argument("key")
@click.option("--email", required=True, help="The customer's e-mail address.")
@product_option
@click.option("--version", "app_version", metavar="VERSION", help="Your application's version.")
@hwid_option
@common_options
@click.pass_context
def activate(
    context: click.Context,
    key: str,
    email: str,
    product: str | None,
    app_version: str | None,
    hwid: str | None,
) -> None:
    """Bind license KEY to this machine (or --hwid)."""
    state = get_state(context)
    product_name = product or state.require("product", "--product")
    client = state.client(context)
    hardware_id = state.hardware_id(hwid)
    result = client.activate(key, email, hardware_id, product_name, app_version)
    if not result.success:
        if result.error_code == "network_error":
            where = state.setting("base_url")
            message = f"cannot reach the server at {where}: {result.error_message}"
        else:
            status = f"{result.status_code} {result.error_code or ''}".strip()
            message = f"activation refused ({status}): {result.error_message}"
            if result.minimum_required_version:
                message += f" (minimum version {result.minimum_required_version})"
        extra = {
            "status": result.status_code,
            "serverVersion": result.server_version,
            "minimumRequiredVersion": result.minimum_required_version,
        }
        raise CliError(message, result.error_code or "activation_failed", extra)
    license_data = _json_object(result.license_data)
    data = {"success": True, "hardwareId": hardware_id, "license": license_data}
    already = license_data.get("alreadyActivated") is True
    state.output.record(
        data,
        "Already activated on this device" if already else "Activated",
        [
            ("Key", license_data.get("activationKey", key)),
            ("Product", license_data.get("productName", product_name)),
            ("Hardware ID", hardware_id),
            ("Expires", license_data.get("expirationDate")),
            ("Features", license_data.get("features")),
            ("Corporate", license_data.get("isCorporate")),
            ("Seats used", license_data.get("currentSeats")),
            ("Max seats", license_data.get("maxSeats")),
        ],
        style="bold green",
    )


@click.command()
@click.argument("key", default="")
@product_option
@click.option("--version", "app_version", metavar="VERSION", help="Your application's version.")
@hwid_option
@common_options
@click.pass_context
def validate(
    context: click.Context,
    key: str,
    product: str | None,
    app_version: str | None,
    hwid: str | None,
) -> None:
    """Check license KEY online (no KEY and --product: a trial check).

    Exit code 0 when valid (licensed or trial), 3 when not.
    """
    state = get_state(context)
    product_name = product or state.setting("product")
    if not key.strip() and not product_name:
        raise click.UsageError("give a KEY, or --product for a trial check")
    client = state.client(context)
    hardware_id = state.hardware_id(hwid)
    result = client.validate(key, hardware_id, product_name, app_version)
    data = {**jsonable(result), "hardwareId": hardware_id}
    title = f"Valid ({result.status})" if result.is_valid else f"Not valid ({result.status})"
    state.output.record(
        data,
        title,
        [
            ("Status", str(result.status)),
            ("Expires", date_text(result.expiration_date)),
            ("Features", result.features),
            ("Days left", result.remaining_days),
            ("Server version", result.server_version),
            ("Minimum version", result.minimum_required_version),
            ("Hardware ID", hardware_id),
        ],
        style="bold green" if result.is_valid else "bold red",
    )
    if not result.is_valid:
        context.exit(EXIT_NOT_VALID)


@click.command()
@click.argument("key")
@product_option
@hwid_option
@common_options
@click.pass_context
def deactivate(context: click.Context, key: str, product: str | None, hwid: str | None) -> None:
    """Release license KEY (or its seat) on this machine (or --hwid)."""
    state = get_state(context)
    product_name = product or state.require("product", "--product")
    client = state.client(context)
    hardware_id = state.hardware_id(hwid)
    client.deactivate(key, hardware_id, product_name)
    data = {"success": True, "activationKey": key, "hardwareId": hardware_id}
    state.output.success(f"Deactivated {key} on {hardware_id}", data)


@click.command()
@click.argument("key")
@common_options
@click.pass_context
def seats(context: click.Context, key: str) -> None:
    """Seat usage of corporate license KEY."""
    state = get_state(context)
    usage = state.client(context).get_seat_usage(key)
    data = {**jsonable(usage), "remaining": usage.remaining, "activationKey": key}
    state.output.record(
        data,
        f"Seats of {key}",
        [
            ("In use", usage.current_seats),
            ("Maximum", "unlimited" if usage.is_unlimited else usage.max_seats),
            ("Free", "unlimited" if usage.remaining is None else usage.remaining),
            ("Has capacity", usage.has_capacity),
        ],
    )


@click.command()
@product_option
@click.option("--email", required=True, help="Your e-mail address (for the answer).")
@click.option("--subject", required=True)
@click.option("--message", required=True, help="The text, or - to read it from stdin.")
@common_options
@click.pass_context
def ticket(
    context: click.Context, product: str | None, email: str, subject: str, message: str
) -> None:
    """Send a support ticket to the publisher."""
    state = get_state(context)
    product_name = product or state.require("product", "--product")
    if message == "-":
        message = sys.stdin.read()
    if not message.strip():
        raise click.UsageError("the message is empty")
    state.client(context).send_support_ticket(product_name, email, subject, message)
    data = {"success": True, "productName": product_name, "email": email, "subject": subject}
    state.output.success("Ticket sent", data)


def _json_object(text: str | None) -> dict[str, Any]:
    try:
        data = json.loads(text or "")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


COMMANDS = (hwid, activate, validate, deactivate, seats, ticket)
