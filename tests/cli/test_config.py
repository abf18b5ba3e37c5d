"""Configuration: flags > environment > config file; `exisone config`; the token stays masked."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from exisone._cli._app import cli as exisone_cli
from exisone._cli._config import mask_token

from .conftest import Cli, Server, TlsServer, new_hardware_id

SECRET = "s3cr3t-Secret_value-0123456789abcdef"
TOKEN = f"exo_at_abcdefgh12345678_{SECRET}"


def write_config(path: Path, **values: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["[exisone]", *(f"{name} = {value}" for name, value in values.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def show(runner: CliRunner, *args: str, env: dict[str, str | None] | None = None) -> dict[str, Any]:
    result = runner.invoke(exisone_cli, ["config", "show", "--json", *args], env=env)
    assert result.exit_code == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_precedence_flag_over_env_over_file(
    bare_cli: CliRunner, isolated_environment: Path
) -> None:
    write_config(
        isolated_environment, base_url="https://file.example", product="FileApp", ca_bundle="ca.pem"
    )
    settings = show(bare_cli)["settings"]
    assert settings["base_url"] == {"value": "https://file.example", "source": "file"}
    assert settings["ca_bundle"] == {  # relative to the config file's folder
        "value": str(isolated_environment.parent / "ca.pem"),
        "source": "file",
    }
    assert settings["token"] == {"value": None, "source": "unset"}

    env: dict[str, str | None] = {
        "EXISONE_BASEURL": "https://env.example",
        "EXISONE_PRODUCT": "EnvApp",
    }
    settings = show(bare_cli, env=env)["settings"]
    assert settings["base_url"] == {"value": "https://env.example", "source": "env"}
    assert settings["product"] == {"value": "EnvApp", "source": "env"}

    settings = show(bare_cli, "--base-url", "https://flag.example", env=env)["settings"]
    assert settings["base_url"] == {"value": "https://flag.example", "source": "flag"}
    assert settings["product"]["source"] == "env"
    # root-level flags count too; the command's own value wins over them
    result = bare_cli.invoke(
        exisone_cli,
        ["--base-url", "https://root.example", "config", "show", "--json"],
        env=env,
    )
    assert json.loads(result.stdout)["settings"]["base_url"]["value"] == "https://root.example"
    result = bare_cli.invoke(
        exisone_cli,
        [
            "--base-url",
            "https://root.example",
            "config",
            "show",
            "--base-url",
            "https://cmd.example",
            "--json",
        ],
    )
    assert json.loads(result.stdout)["settings"]["base_url"]["value"] == "https://cmd.example"


def test_precedence_decides_which_server_and_token_are_used(
    cli: Cli, server: Server, isolated_environment: Path
) -> None:
    key = server.new_key()
    hwid = new_hardware_id()
    cli.json("activate", key, "--email", "a@x.org", "--product", server.product, "--hwid", hwid)
    args = ["validate", key, "--hwid", hwid, "--json"]
    # the file names a dead server and a bad token; the environment's good ones win
    write_config(isolated_environment, base_url="http://127.0.0.1:9", token="exo_at_bad_bad")
    assert cli(*args).exit_code == 0
    no_env: dict[str, str | None] = {"EXISONE_BASEURL": None, "EXISONE_TOKEN": None}
    only_file = cli(*args, env=no_env)
    assert only_file.exit_code == 1
    assert json.loads(only_file.stderr)["error"] == "network_error"
    # a bad token in the environment loses to a good flag, and beats a good file
    bad_env: dict[str, str | None] = {"EXISONE_TOKEN": "exo_at_nothing0000000000_bad"}
    assert cli(*args, "--token", server.token, env=bad_env).exit_code == 0
    write_config(isolated_environment, base_url=server.base_url, token=server.token)
    assert cli(*args, env={"EXISONE_BASEURL": None, "EXISONE_TOKEN": None}).exit_code == 0
    refused = cli(*args, env={"EXISONE_BASEURL": None, **bad_env})
    assert refused.exit_code == 1
    assert json.loads(refused.stderr)["status"] == 401


def test_config_set_show_unset(bare_cli: CliRunner, isolated_environment: Path) -> None:
    done = bare_cli.invoke(exisone_cli, ["config", "set", "token", TOKEN])
    assert done.exit_code == 0, done.stderr
    assert SECRET not in done.stdout
    assert stat.S_IMODE(os.stat(isolated_environment).st_mode) == 0o600
    assert TOKEN in isolated_environment.read_text()
    assert (
        bare_cli.invoke(exisone_cli, ["config", "set", "base_url", "https://h.example"]).exit_code
        == 0
    )

    data = show(bare_cli)
    assert data["configFile"] == str(isolated_environment)
    assert data["configFileExists"] is True
    assert data["settings"]["token"] == {"value": "exo_at_abcdefgh12345678_****", "source": "file"}
    assert data["settings"]["base_url"]["value"] == "https://h.example"
    table = bare_cli.invoke(exisone_cli, ["config", "show"])
    assert table.exit_code == 0
    assert SECRET not in table.stdout
    assert "exo_at_abcdefgh12345678_****" in table.stdout

    assert bare_cli.invoke(exisone_cli, ["config", "unset", "token"]).exit_code == 0
    assert show(bare_cli)["settings"]["token"]["source"] == "unset"
    unknown = bare_cli.invoke(exisone_cli, ["config", "set", "colour", "blue"])
    assert unknown.exit_code == 2


def test_mask_token_never_shows_a_secret() -> None:
    assert mask_token(TOKEN) == "exo_at_abcdefgh12345678_****"
    assert mask_token("some-other-format-token-123") == "some****"
    assert mask_token("short") == "****"
    assert mask_token(None) is None


def test_config_file_from_option_and_environment(bare_cli: CliRunner, tmp_path: Path) -> None:
    named = write_config(tmp_path / "a.ini", product="FromOption")
    data = show(bare_cli, "--config", str(named))
    assert data["settings"]["product"] == {"value": "FromOption", "source": "file"}
    other = write_config(tmp_path / "b.ini", product="FromEnv")
    data = show(bare_cli, env={"EXISONE_CONFIG": str(other)})
    assert data["settings"]["product"]["value"] == "FromEnv"
    path = bare_cli.invoke(exisone_cli, ["config", "path"], env={"EXISONE_CONFIG": str(other)})
    assert path.stdout.strip() == str(other)

    missing = bare_cli.invoke(exisone_cli, ["config", "show", "--config", str(tmp_path / "no.ini")])
    assert missing.exit_code == 1
    assert missing.stderr == f"error: config file {str(tmp_path / 'no.ini')!r} does not exist\n"
    created = bare_cli.invoke(
        exisone_cli, ["config", "set", "product", "New", "--config", str(tmp_path / "new.ini")]
    )
    assert created.exit_code == 0, created.stderr
    assert "product = New" in (tmp_path / "new.ini").read_text()


def test_broken_config_file_is_one_line(bare_cli: CliRunner, isolated_environment: Path) -> None:
    isolated_environment.parent.mkdir(parents=True)
    isolated_environment.write_text("base_url = no section\n")
    result = bare_cli.invoke(exisone_cli, ["validate", "K", "--hwid", "H"])
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"error: config file {str(isolated_environment)!r} is unreadable"
    )
    assert result.stderr.count("\n") == 1


def test_public_key_file_relative_to_the_config_file(
    cli: Cli, server: Server, tmp_path: Path
) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "tenant.pem").write_text(server.demo["publicKeyPem"])
    config = write_config(folder / "config.ini", public_key_file="tenant.pem")
    hwid = new_hardware_id()
    code = cli.json("offline", "issue", server.new_key(), hwid)["offlineCode"]
    verified = cli.json("offline", "verify", code, "--hwid", hwid, "--config", str(config))
    assert verified["isValid"] is True


def test_no_server_configured_is_a_usage_error(bare_cli: CliRunner) -> None:
    result = bare_cli.invoke(exisone_cli, ["seats", "K"])
    assert result.exit_code == 2
    assert "missing --base-url (or set EXISONE_BASEURL, or `exisone config set base_url" in (
        result.stderr
    )


def test_ca_bundle_for_a_private_ca(cli: Cli, server: Server, tls_server: TlsServer) -> None:
    args = ["validate", "--product", server.product, "--hwid", new_hardware_id()]
    https: dict[str, str | None] = {"EXISONE_BASEURL": tls_server.base_url}
    untrusted = cli(*args, env=https)
    assert untrusted.exit_code == 1
    assert untrusted.stderr.startswith(f"error: cannot reach the server at {tls_server.base_url}")
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
    assert untrusted.stderr.count("\n") == 1
    trusted = cli(*args, "--ca-bundle", str(tls_server.ca_path), "--json", env=https)
    assert trusted.exit_code == 0, trusted.stderr
    assert json.loads(trusted.stdout)["status"] == "trial"
    from_env = cli(*args, env={**https, "EXISONE_CA_BUNDLE": str(tls_server.ca_path)})
    assert from_env.exit_code == 0, from_env.stderr
