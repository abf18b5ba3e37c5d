"""Offline activation codes: `offline issue` (via the server) and `offline verify` (local)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .._offline_check import check_offline_code
from ._errors import EXIT_NOT_VALID
from ._jsonable import jsonable
from ._publisher import issue_offline_code
from ._state import common_options, get_state, public_key_option

__all__ = ["offline"]


@click.group()
def offline() -> None:
    """Offline activation codes for machines without network access."""


@offline.command("issue")
@click.argument("key")
@click.argument("hwid")
@click.option("--out", "out_path", metavar="FILE", help="Also write the code to FILE.")
@common_options
@click.pass_context
def issue(context: click.Context, key: str, hwid: str, out_path: str | None) -> None:
    """Sign an offline code binding license KEY to hardware ID HWID (takes a seat)."""
    state = get_state(context)
    answer = issue_offline_code(state.client(context), key, hwid)
    code = str(answer["offlineCode"])
    if out_path:
        Path(out_path).write_text(code + "\n", encoding="utf-8")
        state.output.note(f"offline code written to {out_path}")
    state.output.value(code, answer)


@offline.command("verify")
@click.argument("code")
@click.option("--hwid", metavar="ID", help="Hardware ID [default: this machine's].")
@click.option("--product", metavar="NAME", help="Expected product [EXISONE_PRODUCT].")
@public_key_option
@common_options
@click.pass_context
def verify(context: click.Context, code: str, hwid: str | None, product: str | None) -> None:
    """Check offline CODE locally (no network): signature, product, hardware ID, expiry.

    CODE may be - (read from stdin). The file of --public-key may hold several PEM keys
    (rotation; an Ed25519 lease key among them is skipped: codes are RSA-signed). Exit code 0
    when valid, 3 when not.
    """
    state = get_state(context)
    if code == "-":
        code = sys.stdin.read()
    state.require("public_key_file", "--public-key")
    pem = state.public_key_pem() or ""
    from .._exceptions import ConfigurationError
    from .._offline import load_trusted_keys

    keys = load_trusted_keys(pem).rsa_keys
    if not keys:
        raise ConfigurationError("the --public-key file has no RSA public key (offline codes)")
    hardware_id = state.hardware_id(hwid)
    product_name = product or state.setting("product")
    result = check_offline_code(code, hardware_id, keys, product_name=product_name)
    data = {**jsonable(result), "hardwareId": hardware_id}
    title = "Offline code valid" if result.is_valid else "Offline code not valid"
    state.output.record(
        data,
        title,
        [
            ("Problem", result.error_message),
            ("Product", result.product_name),
            ("E-mail", result.email),
            ("Expires", data["expirationDate"]),
            ("Features", result.features),
            ("Hardware ID", hardware_id),
        ],
        style="bold green" if result.is_valid else "bold red",
    )
    if not result.is_valid:
        context.exit(EXIT_NOT_VALID)
