"""Pure helpers: versions, tokens, keys, hardware IDs, settings, master key (no database)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from exisone_server.auth import Permission
from exisone_server.auth.permissions import grants
from exisone_server.auth.tokens import format_token, hash_secret, parse_token
from exisone_server.config import Settings, normalize_database_url
from exisone_server.crypto.master_key import MasterKey
from exisone_server.kit.activation_keys import KEY_ALPHABET, generate_activation_key
from exisone_server.kit.hardware import normalize_hardware_id
from exisone_server.kit.time import PERPETUAL, format_expiration, utc_now
from exisone_server.kit.versions import is_older, parse_version


@pytest.mark.parametrize(
    ("version", "minimum", "older"),
    [
        ("1.9", "1.10", True),
        ("1.10", "1.9", False),
        ("1.10", "1.10.0", False),
        ("1.10.0", "1.10", False),
        ("2", "10", True),
        ("v1.2.3-beta", "1.2.4", True),
        ("2024.1", "2023.12", False),
        ("", "1.0", True),
    ],
)
def test_versions_compare_numerically(version: str, minimum: str, older: bool) -> None:
    assert is_older(version, minimum) is older


def test_parse_version_drops_trailing_zeros() -> None:
    assert parse_version("1.2.0.0") == (1, 2)


def test_token_round_trip_with_underscores_in_the_secret() -> None:
    token = format_token("abc123", "s_e-c_r_et")
    assert parse_token(token) == ("abc123", "s_e-c_r_et")


@pytest.mark.parametrize(
    "token",
    ["", "exo_at_", "exo_at_abc", "exo_at_abc_", "exo_at__secret", "exo_xx_abc_secret", "abc"],
)
def test_malformed_tokens(token: str) -> None:
    assert parse_token(token) is None


def test_secret_hash_is_sha256_hex() -> None:
    assert hash_secret("s") == "043a718774c572bd8a25adbeb1bfcd5c0256ae11cecf9f9c3f925d0e52beaf89"


def test_admin_grants_everything_others_only_themselves() -> None:
    assert all(grants(["admin"], permission) for permission in Permission)
    assert grants(["verify"], Permission.VERIFY)
    assert not grants(["verify"], Permission.GENERATE)


def test_activation_keys() -> None:
    keys = {generate_activation_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        groups = key.split("-")
        assert [len(group) for group in groups] == [4, 4, 4, 4]
        assert set(key.replace("-", "")) <= set(KEY_ALPHABET)
        assert len(key.replace("-", "")) < 50  # never mistaken for an offline code


def test_hardware_ids_are_trimmed_and_upper_cased() -> None:
    assert normalize_hardware_id("  ab-Cd\n") == "AB-CD"


def test_perpetual_date_on_the_wire() -> None:
    assert format_expiration(None) == "2049-12-31T23:59:59Z"
    assert format_expiration(PERPETUAL) == "2049-12-31T23:59:59Z"


class TestSettings:
    def test_defaults_put_sqlite_in_the_data_dir(self, tmp_path: Path) -> None:
        settings = Settings.from_env({"EXISONE_DATA_DIR": str(tmp_path)})
        assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path}/exisone.db"
        assert settings.is_sqlite
        assert (settings.host, settings.port, settings.sqlite_synchronous) == (
            "127.0.0.1",
            8000,
            "FULL",
        )
        assert settings.master_key is None
        assert (settings.access_log, settings.body_timeout_seconds) == ("text", 30.0)

    def test_everything_from_the_environment(self, tmp_path: Path) -> None:
        settings = Settings.from_env(
            {
                "EXISONE_DATA_DIR": str(tmp_path),
                "EXISONE_DATABASE_URL": "postgresql+psycopg://u@h/db",
                "EXISONE_MASTER_KEY": "a2V5",
                "EXISONE_HOST": "0.0.0.0",
                "EXISONE_PORT": "9000",
                "EXISONE_SQLITE_SYNCHRONOUS": "full",
                "EXISONE_ACCESS_LOG": "JSON",
                "EXISONE_BODY_TIMEOUT_SECONDS": "2.5",
            }
        )
        assert (settings.access_log, settings.body_timeout_seconds) == ("json", 2.5)
        assert not settings.is_sqlite
        assert (settings.host, settings.port, settings.sqlite_synchronous) == (
            "0.0.0.0",
            9000,
            "FULL",
        )

    @pytest.mark.parametrize(
        "environ",
        [
            {"EXISONE_PORT": "http"},
            {"EXISONE_PORT": "70000"},
            {"EXISONE_SQLITE_SYNCHRONOUS": "SOMETIMES"},
            {"EXISONE_ACCESS_LOG": "yaml"},
            {"EXISONE_BODY_TIMEOUT_SECONDS": "soon"},
            {"EXISONE_BODY_TIMEOUT_SECONDS": "-1"},
            {"EXISONE_BODY_TIMEOUT_SECONDS": "nan"},
        ],
    )
    def test_bad_values_are_refused(self, tmp_path: Path, environ: dict[str, str]) -> None:
        with pytest.raises(ValueError):
            Settings.from_env({"EXISONE_DATA_DIR": str(tmp_path), **environ})


class TestDatabaseUrl:
    @pytest.mark.parametrize(
        ("written", "used"),
        [
            ("sqlite:///exisone.db", "sqlite+aiosqlite:///exisone.db"),
            ("sqlite:////var/lib/x.db", "sqlite+aiosqlite:////var/lib/x.db"),
            ("SQLite:////var/lib/x.db", "sqlite+aiosqlite:////var/lib/x.db"),
            ("sqlite+pysqlite:///x.db", "sqlite+aiosqlite:///x.db"),
            ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
            ("postgresql://u:p%40ss@h:5432/db", "postgresql+psycopg://u:p%40ss@h:5432/db"),
            ("postgres://u@h/db?sslmode=require", "postgresql+psycopg://u@h/db?sslmode=require"),
            ("postgresql+psycopg2://u@h/db", "postgresql+psycopg://u@h/db"),
            ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
            (" postgresql://u@h/db\n", "postgresql+psycopg://u@h/db"),
        ],
    )
    def test_what_people_write_is_what_the_server_runs_on(self, written: str, used: str) -> None:
        assert normalize_database_url(written) == used
        settings = Settings.from_env({"EXISONE_DATA_DIR": "/d", "EXISONE_DATABASE_URL": written})
        assert settings.database_url == used
        assert settings.is_sqlite is used.startswith("sqlite")

    @pytest.mark.parametrize(
        ("written", "named"),
        [
            ("mysql://root:hunter2@db/exisone", "'mysql://'"),
            ("postgresql+asyncpg://u:hunter2@h/db", "'postgresql+asyncpg://'"),
            ("/var/lib/exisone.db", "not a URL"),
        ],
    )
    def test_anything_else_is_one_line_that_shows_no_password(
        self, written: str, named: str
    ) -> None:
        with pytest.raises(ValueError) as refused:
            normalize_database_url(written)
        message = str(refused.value)
        assert named in message and "\n" not in message and "hunter2" not in message
        assert "sqlite:///" in message and "postgresql://" in message


class TestMasterKey:
    def test_encrypts_with_associated_data(self) -> None:
        key = MasterKey(bytes(32))
        nonce, ciphertext = key.encrypt(b"secret", b"tenant:1")
        assert key.decrypt(nonce, ciphertext, b"tenant:1") == b"secret"
        with pytest.raises(InvalidTag):
            key.decrypt(nonce, ciphertext, b"tenant:2")

    def test_repr_and_id_never_show_the_key(self) -> None:
        key = MasterKey(bytes(range(32)))
        assert bytes(range(32)).hex() not in repr(key)
        assert len(key.key_id) == 16

    @pytest.mark.parametrize("text", ["!!!", "AAAA"])
    def test_bad_keys(self, text: str) -> None:
        with pytest.raises(ValueError):
            MasterKey.from_base64(text)


def test_utc_now_is_the_current_second_in_utc() -> None:
    before = datetime.now(timezone.utc).replace(microsecond=0)
    now = utc_now()
    after = datetime.now(timezone.utc)

    assert now.tzinfo is timezone.utc and now.microsecond == 0
    assert before <= now <= after
    assert utc_now() >= now  # the kept second is never older than one already given
