"""`exisone lease ...` against the test kit's floating seats behind a real socket (the real
server's lease endpoints are tested in tests/server)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from exisone._cli._app import cli as exisone_cli
from exisone.testing import KeyPair
from tests.client.socket_kit import SocketServer, serving

KEYS = KeyPair.generate()
HWID = "D" * 64


class LeaseCli:
    def __init__(self, server: SocketServer, public_key: Path) -> None:
        self.server = server
        self.public_key = public_key
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Result:
        env = {
            "EXISONE_BASEURL": self.server.url,
            "EXISONE_TOKEN": self.server.fake.access_token,
            "EXISONE_PRODUCT": "App",
            "EXISONE_HARDWARE_ID": HWID,
        }
        return self.runner.invoke(
            exisone_cli, ["lease", *args], input=input, env=env, prog_name="exisone"
        )

    def json(self, *args: str, **kwargs: Any) -> Any:
        result = self(*args, "--json", **kwargs)
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return json.loads(result.stdout)


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[LeaseCli]:
    public_key = tmp_path / "tenant.pem"
    public_key.write_text(KEYS.public_key_pem)
    with serving(KEYS) as server:
        server.fake.add_license("App", key="FLOAT-KEY", floating=True, max_seats=1)
        yield LeaseCli(server, public_key)


def test_checkout_heartbeat_release(cli: LeaseCli) -> None:
    grant = cli.json("checkout", "FLOAT-KEY", "--ttl", "120")
    assert grant["ttlSeconds"] == 120 and grant["hardwareId"] == HWID
    assert grant["seatsInUse"] == 1 and grant["leaseToken"].startswith("exo_lt.")
    lease_id = grant["leaseId"]
    assert cli.server.live("FLOAT-KEY") == 1
    renewed = cli.json("heartbeat", lease_id)
    assert renewed["leaseId"] == lease_id and renewed["expiresAt"] >= grant["expiresAt"]
    table = cli("release", lease_id)
    assert table.exit_code == 0 and f"Released {lease_id}" in table.stdout
    assert cli.server.live("FLOAT-KEY") == 0
    gone = cli("heartbeat", lease_id, "--json")
    assert gone.exit_code == 1
    assert json.loads(gone.stderr)["error"] == "lease_not_found"


def test_no_free_seat_is_one_line_with_the_code(cli: LeaseCli) -> None:
    cli.json("checkout", "FLOAT-KEY")
    refused = cli("checkout", "FLOAT-KEY", "--hwid", "E" * 64)
    assert refused.exit_code == 1 and refused.stdout == ""
    assert refused.stderr.startswith("error:") and "no_free_seat" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    as_json = cli("checkout", "FLOAT-KEY", "--hwid", "E" * 64, "--json")
    error = json.loads(as_json.stderr)
    assert error["error"] == "no_free_seat" and error["status"] == 409
    assert (error["seatsInUse"], error["maxSeats"]) == (1, 1) and error["nextFreeAt"]


def test_borrow_then_verify_offline(cli: LeaseCli, tmp_path: Path) -> None:
    out = tmp_path / "token.txt"
    borrowed = cli.json("borrow", "FLOAT-KEY", "--hours", "24", "--out", str(out))
    assert "activationKey" not in borrowed
    token = out.read_text().strip()
    assert borrowed["leaseToken"] == token
    cli.server.fake.reachable = False  # verify needs no network
    shown = cli("verify", "--public-key", str(cli.public_key))
    assert shown.exit_code == 0 and "Lease valid" in shown.stdout, shown.stderr
    explicit = cli.json("verify", "-", "--public-key", str(cli.public_key), input=token)
    assert explicit["isValid"] is True and explicit["borrowed"] is True
    other = cli("verify", token, "--hwid", "F" * 64, "--public-key", str(cli.public_key))
    assert other.exit_code == 3 and "hardware_mismatch" in other.stdout


def test_verify_needs_a_public_key(cli: LeaseCli) -> None:
    result = cli("verify", "exo_lt.x.y")
    assert result.exit_code != 0 and "--public-key" in result.stderr
