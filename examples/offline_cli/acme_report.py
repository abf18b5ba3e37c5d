"""acme-report: a command-line tool licensed with offline activation codes (air-gapped machines).

    python acme_report.py hwid               # 1. the customer sends this to the publisher
    python acme_report.py activate code.txt  # 3. the code the publisher sent back ('-' = stdin)
    python acme_report.py status             #    what the stored license allows
    python acme_report.py run                #    the licensed work; refuses without a license
    python acme_report.py deactivate         #    forget the code on this machine

Step 2 happens at the publisher: ``exisone offline issue KEY HWID --out code.txt`` or the
dashboard's "Offline Activation Code" box. Nothing here opens a network connection: the code is
checked with the publisher's public key, shipped with the tool (``public-key.pem`` next to this
file, or the file named by ``ACME_PUBLIC_KEY_FILE``).

Exit codes: 0 done, 1 usage or setup error, 3 no valid license.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from exisone import ExisOneClient, OfflineValidationResult

PRODUCT = os.environ.get("ACME_PRODUCT", "DemoApp")
NOT_LICENSED = 3
# Never contacted: validate_offline works without a server, but a client needs an address.
UNUSED_SERVER = "https://licensing.invalid"


def license_file() -> Path:
    """Where the accepted code is kept (``ACME_LICENSE_FILE``, else ~/.acme-report/license.txt)."""
    default = Path.home() / ".acme-report" / "license.txt"
    return Path(os.environ.get("ACME_LICENSE_FILE") or default)


def public_key_pem() -> str:
    path = Path(
        os.environ.get("ACME_PUBLIC_KEY_FILE") or Path(__file__).with_name("public-key.pem")
    )
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise SystemExit(f"error: cannot read the publisher's public key {path}: {error}") from None


def offline_client() -> ExisOneClient:
    """A client used only for local checks (hardware ID, code signature); keeps no state."""
    return ExisOneClient(
        base_url=UNUSED_SERVER,
        offline_public_key=public_key_pem(),
        hardware_id_override=os.environ.get("ACME_HARDWARE_ID") or None,
        state_dir=False,
    )


def check(code: str) -> OfflineValidationResult:
    with offline_client() as client:
        return client.validate_offline(code, client.generate_hardware_id(), product_name=PRODUCT)


def describe(result: OfflineValidationResult) -> str:
    expires = result.expiration_date.date().isoformat() if result.expiration_date else "-"
    features = ", ".join(result.features) or "-"
    product = result.product_name
    return f"Licensed to {result.email} - {product}, expires {expires}, features: {features}"


def cmd_hwid(_: argparse.Namespace) -> int:
    with offline_client() as client:
        print(client.generate_hardware_id())
    print(
        "Send this hardware ID to your vendor to receive an offline activation code.",
        file=sys.stderr,
    )
    return 0


def cmd_activate(args: argparse.Namespace) -> int:
    code = (
        sys.stdin.read()
        if args.code_file == "-"
        else Path(args.code_file).read_text(encoding="utf-8")
    )
    result = check(code)
    if not result.is_valid:
        print(f"error: this code cannot be used: {result.error_message}", file=sys.stderr)
        return NOT_LICENSED
    path = license_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(code.strip() + "\n", encoding="utf-8")
    print("Activated. " + describe(result))
    return 0


def stored_license() -> OfflineValidationResult | None:
    try:
        code = license_file().read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return check(code)


def cmd_status(_: argparse.Namespace) -> int:
    result = stored_license()
    if result is None:
        print("Not activated. Run: acme_report.py hwid", file=sys.stderr)
        return NOT_LICENSED
    if not result.is_valid:
        print(f"License not valid: {result.error_message}", file=sys.stderr)
        return NOT_LICENSED
    print(describe(result))
    return 0


def cmd_run(_: argparse.Namespace) -> int:
    result = stored_license()
    if result is None or not result.is_valid:
        return cmd_status(argparse.Namespace())
    print(
        "Report written (with "
        + ("PDF export" if "Export" in result.features else "no export")
        + ")."
    )
    return 0


def cmd_deactivate(_: argparse.Namespace) -> int:
    license_file().unlink(missing_ok=True)
    print(
        "This machine's license was removed. Ask your vendor to free the seat for another machine."
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="acme_report.py", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("hwid", help="print this machine's hardware ID").set_defaults(run=cmd_hwid)
    activate = commands.add_parser("activate", help="store an offline activation code")
    activate.add_argument("code_file", help="file with the code, or - for stdin")
    activate.set_defaults(run=cmd_activate)
    commands.add_parser("status", help="show the license").set_defaults(run=cmd_status)
    commands.add_parser("run", help="do the licensed work").set_defaults(run=cmd_run)
    commands.add_parser("deactivate", help="forget the license").set_defaults(run=cmd_deactivate)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
