"""Errors: one line on stderr (JSON with --json), exit codes 1 and 2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import free_port

from .conftest import Cli, Server, new_hardware_id

BAD_TOKEN = "exo_at_zzzzzzzzzzzzzzzz_not-a-real-secret"


def assert_one_error_line(stderr: str, start: str) -> None:
    assert stderr.startswith(start), stderr
    assert stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr


def test_bad_token_is_a_401_line(cli: Cli, server: Server) -> None:
    result = cli("validate", server.new_key(), "--hwid", "H", "--token", BAD_TOKEN)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert_one_error_line(result.stderr, "error: the server refused the access token (401 ")
    as_json = cli("keys", "list", "--json", env={"EXISONE_TOKEN": BAD_TOKEN})
    assert as_json.exit_code == 1
    assert as_json.stdout == ""
    error = json.loads(as_json.stderr)
    assert error["status"] == 401
    assert error["error"]
    assert error["message"]


def test_token_without_permission_is_a_403_line(cli: Cli, server: Server) -> None:
    verify_only = {"EXISONE_TOKEN": server.verify_token}
    generate = cli(
        "keys", "generate", "--product", server.product, "--email", "a@x.org", env=verify_only
    )
    assert generate.exit_code == 1
    assert_one_error_line(generate.stderr, "error: the access token may not do this (403 ")
    listing = cli("keys", "list", "--json", env=verify_only)
    assert listing.exit_code == 1
    assert json.loads(listing.stderr)["status"] == 403
    # the same token may validate
    assert cli("validate", server.new_key(), "--hwid", "H", env=verify_only).exit_code == 3


def test_unreachable_server(cli: Cli, server: Server) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = cli("seats", "AAAA-BBBB-CCCC-DDDD", "--base-url", url)
    assert result.exit_code == 1
    assert_one_error_line(result.stderr, f"error: cannot reach the server at {url}: ")
    activate = cli(
        "activate",
        "AAAA-BBBB-CCCC-DDDD",
        "--email",
        "a@x.org",
        "--product",
        "P",
        "--hwid",
        "H",
        "--base-url",
        url,
        "--json",
    )
    assert activate.exit_code == 1
    assert json.loads(activate.stderr)["error"] == "network_error"


def test_configuration_errors(cli: Cli, tmp_path: Path) -> None:
    insecure = cli("validate", "K", "--hwid", "H", "--base-url", "http://licensing.example.com")
    assert insecure.exit_code == 1
    assert_one_error_line(insecure.stderr, "error: configuration: ")
    no_ca = cli("validate", "K", "--hwid", "H", "--ca-bundle", str(tmp_path / "ca.pem"))
    assert no_ca.exit_code == 1
    assert_one_error_line(no_ca.stderr, "error: configuration: verify: no CA bundle file at")
    spaces = cli("validate", "K", "--hwid", "H", "--json", "--token", "exo at bad")
    assert spaces.exit_code == 1
    assert json.loads(spaces.stderr)["error"] == "configuration_error"


def test_unknown_license_key(cli: Cli, server: Server) -> None:
    hwid = new_hardware_id()
    result = cli("deactivate", "AAAA-BBBB-CCCC-DDDD", "--product", server.product, "--hwid", hwid)
    assert result.exit_code == 1
    assert_one_error_line(result.stderr, "error: ")
    assert "(404 license_not_found)" in result.stderr


def test_usage_errors_exit_2(cli: Cli) -> None:
    assert cli("nonsense").exit_code == 2
    assert cli("activate").exit_code == 2  # no KEY
    assert cli("keys", "list", "--status", "lost").exit_code == 2
    assert cli("validate").exit_code == 2  # neither KEY nor --product


def test_unwritable_output_file_is_one_line(cli: Cli, server: Server, tmp_path: Path) -> None:
    target = tmp_path / "missing-folder" / "keys.csv"
    result = cli(
        "keys", "generate", "--product", server.product, "--email", "a@x.org", "--csv", str(target)
    )
    assert result.exit_code == 1
    assert_one_error_line(result.stderr, "error: No such file or directory: ")


def test_without_click_or_rich_the_script_says_what_to_install() -> None:
    code = "import sys; sys.modules['rich'] = None; from exisone._cli import main; main()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        "error: the exisone command needs click and rich: pip install 'exisone[cli]'\n"
    )


def test_import_exisone_loads_no_cli_dependency() -> None:
    code = (
        "import sys, exisone; "
        "print([m for m in ('click', 'rich', 'exisone._cli') if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_installed_script_runs(server: Server) -> None:
    script = Path(sys.executable).with_name("exisone")
    assert script.exists(), "scripts/bootstrap installs packages/client[cli] with its script"
    done = subprocess.run(
        [str(script), "validate", "--json", "--hwid", "H", "--product", server.product],
        env={
            "PATH": "/usr/bin:/bin",
            "EXISONE_BASEURL": server.base_url,
            "EXISONE_TOKEN": server.token,
            "XDG_CONFIG_HOME": "/nonexistent",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "trial"


def test_an_unexpected_error_is_one_line_unless_debugging(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import exisone._hwid

    def broken(mode: str = "stable") -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(exisone._hwid, "generate_hardware_id", broken)
    result = cli("hwid")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: internal error: RuntimeError: boom (set EXISONE_DEBUG=1 to see where)\n"
    )
    debugging = cli("hwid", env={"EXISONE_DEBUG": "1"})
    assert isinstance(debugging.exception, RuntimeError)
