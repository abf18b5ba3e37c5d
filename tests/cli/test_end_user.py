"""End-user commands on a real server: hwid, activate, validate, deactivate, seats, ticket."""

from __future__ import annotations

import re

from .conftest import CORPORATE_SEATS, Cli, Server, new_hardware_id

HEX64 = re.compile(r"^[0-9A-F]{64}$")


def test_hwid_prints_this_machines_ids(cli: Cli) -> None:
    stable = cli("hwid")
    assert stable.exit_code == 0, stable.stderr
    assert HEX64.match(stable.stdout.strip())
    legacy = cli.json("hwid", "--legacy")
    assert legacy["source"] == "legacy"
    assert HEX64.match(legacy["hardwareId"])
    assert cli.json("hwid") == {"hardwareId": stable.stdout.strip(), "source": "stable"}


def test_hwid_shows_the_configured_override(cli: Cli) -> None:
    data = cli.json("hwid", env={"EXISONE_HARDWARE_ID": " user-42 "})
    assert data == {"hardwareId": "user-42", "source": "override"}


def test_activate_validate_deactivate_cycle(cli: Cli, server: Server) -> None:
    key = server.new_key()
    hwid = new_hardware_id()
    product = ["--product", server.product]

    before = cli("validate", key, *product, "--hwid", hwid)
    assert before.exit_code == 3  # not activated yet
    assert "Not valid (invalid)" in before.stdout

    activated = cli.json("activate", key, "--email", "me@example.com", *product, "--hwid", hwid)
    assert activated["success"] is True
    assert activated["hardwareId"] == hwid
    assert activated["license"]["activationKey"] == key
    assert activated["license"]["features"] == server.demo["features"]

    human = cli("activate", key, "--email", "me@example.com", *product, "--hwid", hwid)
    assert human.exit_code == 0, human.stderr
    assert "Already activated on this device" in human.stdout

    valid = cli.json("validate", key, *product, "--version", "1.2.0", "--hwid", hwid)
    assert valid["isValid"] is True
    assert valid["status"] == "licensed"
    assert valid["expirationDate"] == "2049-12-31T23:59:59Z"
    assert valid["features"] == server.demo["features"]
    assert valid["hardwareId"] == hwid
    shown = cli("validate", key, "--hwid", hwid)
    assert shown.exit_code == 0
    assert "Valid (licensed)" in shown.stdout
    assert "Export, Pro" in shown.stdout

    done = cli.json("deactivate", key, *product, "--hwid", hwid)
    assert done == {"success": True, "activationKey": key, "hardwareId": hwid}
    after = cli("validate", key, *product, "--hwid", hwid, "--json")
    assert after.exit_code == 3
    assert after.stderr == ""
    assert '"isValid": false' in after.stdout


def test_validate_outdated_version_exits_3(cli: Cli, server: Server) -> None:
    key = server.new_key()
    hwid = new_hardware_id()
    cli.json(
        "activate", key, "--email", "a@example.com", "--product", server.product, "--hwid", hwid
    )
    result = cli("validate", key, "--product", server.product, "--version", "0.9", "--hwid", hwid)
    assert result.exit_code == 3
    assert "version_outdated" in result.stdout
    assert "1.0.0" in result.stdout  # the minimum version


def test_validate_without_key_is_a_trial_check(cli: Cli, server: Server) -> None:
    data = cli.json("validate", "--product", server.product, "--hwid", new_hardware_id())
    assert data["status"] == "trial"
    assert data["remainingDays"] == server.demo["trialDays"]


def test_product_comes_from_the_environment(cli: Cli, server: Server) -> None:
    key = server.new_key()
    hwid = new_hardware_id()
    env: dict[str, str | None] = {"EXISONE_PRODUCT": server.product, "EXISONE_HARDWARE_ID": hwid}
    activated = cli.json("activate", key, "--email", "a@example.com", env=env)
    assert activated["hardwareId"] == hwid
    assert cli.json("validate", key, env=env)["isValid"] is True


def test_activation_refused_is_one_line_and_exit_1(cli: Cli, server: Server) -> None:
    key = server.new_key()
    first = cli.json(
        "activate", key, "--email", "a@x.org", "--product", server.product, "--hwid", "A"
    )
    assert first["success"] is True
    second = cli("activate", key, "--email", "a@x.org", "--product", server.product, "--hwid", "B")
    assert second.exit_code == 1
    assert second.stdout == ""
    assert second.stderr.startswith("error: activation refused (409 license_in_use)")
    assert second.stderr.count("\n") == 1
    as_json = cli(
        "activate", key, "--email", "a@x.org", "--product", server.product, "--hwid", "B", "--json"
    )
    assert as_json.exit_code == 1
    assert as_json.stdout == ""
    assert '"error": "license_in_use"' in as_json.stderr
    assert '"status": 409' in as_json.stderr


def test_activate_needs_a_product(cli: Cli, server: Server) -> None:
    result = cli("activate", "K", "--email", "a@x.org", "--hwid", "A")
    assert result.exit_code == 2
    assert "missing --product (or set EXISONE_PRODUCT" in result.stderr


def test_seats_of_a_corporate_license(cli: Cli, server: Server) -> None:
    corporate = server.new_key(corporate=True)
    for hwid in ("S1", "S2"):
        cli.json(
            "activate", corporate, "--email", "a@x.org", "--product", server.product, "--hwid", hwid
        )
    data = cli.json("seats", corporate)
    assert data == {
        "currentSeats": 2,
        "maxSeats": CORPORATE_SEATS,
        "hasCapacity": True,
        "isUnlimited": False,
        "remaining": CORPORATE_SEATS - 2,
        "activationKey": corporate,
    }
    shown = cli("seats", corporate)
    assert shown.exit_code == 0
    assert re.search(r"In use\s+2", shown.stdout)


def test_seats_of_a_single_device_license_is_a_clear_error(cli: Cli, server: Server) -> None:
    result = cli("seats", server.new_key())
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert "(404 not_corporate)" in result.stderr


def test_ticket_with_the_message_from_stdin(cli: Cli, server: Server) -> None:
    data = cli.json(
        "ticket",
        "--product",
        server.product,
        "--email",
        "user@example.com",
        "--subject",
        "Cannot activate",
        "--message",
        "-",
        input="It says license_in_use.\nWhat now?\n",
    )
    assert data == {
        "success": True,
        "productName": server.product,
        "email": "user@example.com",
        "subject": "Cannot activate",
    }
    empty = cli(
        "ticket",
        "--product",
        server.product,
        "--email",
        "u@example.com",
        "--subject",
        "S",
        "--message",
        "-",
        input="  \n",
    )
    assert empty.exit_code == 2
    assert "the message is empty" in empty.stderr
