"""Server configuration: one typed, immutable object read from ``EXISONE_*`` environment variables.

==========================  ===========================================================
variable                    meaning (default)
==========================  ===========================================================
EXISONE_DATA_DIR            folder for the SQLite file and the generated master key
                            (platformdirs' user data dir for ``exisone-server``)
EXISONE_DATABASE_URL        the database (``sqlite:///<data dir>/exisone.db``): ``sqlite:///path``
                            (``sqlite:////abs/path``) or ``postgresql://user:pass@host:5432/db``
                            (also ``postgres://``; SQLAlchemy's ``+aiosqlite``, ``+psycopg``
                            forms too); any other scheme is refused
EXISONE_MASTER_KEY          base64 of 32 random bytes; encrypts the tenants' private keys
                            (generated once into ``<data dir>/master.key`` when unset)
EXISONE_HOST / EXISONE_PORT address ``serve`` binds to (127.0.0.1 / 8000)
EXISONE_SQLITE_SYNCHRONOUS  SQLite ``synchronous`` pragma: FULL (default) or NORMAL
EXISONE_SQLITE_GROUP_COMMIT the writes that arrive together share one SQLite commit
                            (``on``; ``off``: one commit each)
EXISONE_FORWARDED_ALLOW_IPS proxies (addresses, networks, ``*``) whose ``X-Forwarded-For`` and
                            ``X-Forwarded-Proto`` are trusted (127.0.0.1)
EXISONE_ACCESS_LOG          ``serve``'s access log: ``text``, ``json`` (one object per line)
                            or ``off`` (text); keys masked, control characters escaped
EXISONE_BODY_TIMEOUT_SECONDS  seconds a request's body may take to arrive after its headers;
                            then 408 ``request_timeout`` (30; 0 = no limit)
EXISONE_DATABASE_CONNECT_TIMEOUT_SECONDS  PostgreSQL: seconds to open a connection (5)
EXISONE_DATABASE_TCP_USER_TIMEOUT_SECONDS  PostgreSQL: seconds sent data may stay
                            unacknowledged before a connection counts as lost (5)
EXISONE_DATABASE_STATEMENT_TIMEOUT_SECONDS  PostgreSQL: longest a statement may run, lock
                            waits included (30; 0 = no limit)
EXISONE_DATABASE_REPLICA_URLS  PostgreSQL streaming replicas (comma-separated URLs) that
                            validate's reads may use (none)
==========================  ===========================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import platformdirs

from .kit.access_log import AccessLog

__all__ = ["Settings", "normalize_database_url", "sqlite_url"]

_SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")

#: The URL schemes people write for the two databases, and the SQLAlchemy driver the server
#: runs each on (psycopg serves PostgreSQL both sync and async; libpq reads the URL the same
#: way whichever Python driver it was written for).
_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "postgresql+psycopg_async": "postgresql+psycopg",
    "postgresql+psycopg2": "postgresql+psycopg",
}
_URL_FORMS = "sqlite:///path/to/exisone.db or postgresql://user:password@host:5432/database"


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to know about its environment."""

    data_dir: Path
    database_url: str
    master_key: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    sqlite_synchronous: str = "FULL"  # docs/security.md, Durability
    sqlite_group_commit: bool = True
    forwarded_allow_ips: str = "127.0.0.1"
    access_log: str = "text"
    body_timeout_seconds: float = 30.0
    database_connect_timeout_seconds: float = 5.0
    database_tcp_user_timeout_seconds: float = 5.0
    database_statement_timeout_seconds: float = 30.0
    database_replica_urls: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.sqlite_synchronous.upper() not in _SYNCHRONOUS_LEVELS:
            raise ValueError(
                f"EXISONE_SQLITE_SYNCHRONOUS must be one of {', '.join(_SYNCHRONOUS_LEVELS)}"
            )
        if not 0 < self.port < 65536:
            raise ValueError(f"EXISONE_PORT must be a TCP port, not {self.port}")
        if self.access_log not in {form.value for form in AccessLog}:
            forms = ", ".join(form.value for form in AccessLog)
            raise ValueError(f"EXISONE_ACCESS_LOG must be one of {forms}")
        if not self.body_timeout_seconds >= 0:
            raise ValueError("EXISONE_BODY_TIMEOUT_SECONDS must be a number of seconds (>= 0)")
        if not self.database_connect_timeout_seconds > 0:
            raise ValueError("EXISONE_DATABASE_CONNECT_TIMEOUT_SECONDS must be more than 0")
        if not self.database_tcp_user_timeout_seconds >= 0.001:
            raise ValueError("EXISONE_DATABASE_TCP_USER_TIMEOUT_SECONDS must be 0.001 or more")
        if not self.database_statement_timeout_seconds >= 0:
            raise ValueError("EXISONE_DATABASE_STATEMENT_TIMEOUT_SECONDS must be 0 or more")
        replicas = self.database_replica_urls
        if replicas and (self.is_sqlite or any(url.startswith("sqlite") for url in replicas)):
            raise ValueError(
                "EXISONE_DATABASE_REPLICA_URLS: replicas are PostgreSQL streaming replicas of a "
                "PostgreSQL EXISONE_DATABASE_URL"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from ``environ`` (default: the process environment)."""
        env = os.environ if environ is None else environ
        data_dir = Path(
            env.get("EXISONE_DATA_DIR") or platformdirs.user_data_dir("exisone-server")
        ).expanduser()
        given_url = env.get("EXISONE_DATABASE_URL")
        database_url = (
            normalize_database_url(given_url) if given_url else sqlite_url(data_dir / "exisone.db")
        )
        port_text = env.get("EXISONE_PORT") or "8000"
        try:
            port = int(port_text)
        except ValueError:
            raise ValueError(f"EXISONE_PORT must be an integer, not {port_text!r}") from None
        replicas = env.get("EXISONE_DATABASE_REPLICA_URLS") or ""
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            master_key=env.get("EXISONE_MASTER_KEY") or None,
            host=env.get("EXISONE_HOST") or "127.0.0.1",
            port=port,
            sqlite_synchronous=(env.get("EXISONE_SQLITE_SYNCHRONOUS") or "FULL").upper(),
            sqlite_group_commit=_switch(env, "EXISONE_SQLITE_GROUP_COMMIT", default=True),
            forwarded_allow_ips=env.get("EXISONE_FORWARDED_ALLOW_IPS") or "127.0.0.1",
            access_log=(env.get("EXISONE_ACCESS_LOG") or "text").strip().lower(),
            body_timeout_seconds=_seconds(env, "EXISONE_BODY_TIMEOUT_SECONDS", 30),
            database_connect_timeout_seconds=_seconds(
                env, "EXISONE_DATABASE_CONNECT_TIMEOUT_SECONDS", 5
            ),
            database_tcp_user_timeout_seconds=_seconds(
                env, "EXISONE_DATABASE_TCP_USER_TIMEOUT_SECONDS", 5
            ),
            database_statement_timeout_seconds=_seconds(
                env, "EXISONE_DATABASE_STATEMENT_TIMEOUT_SECONDS", 30
            ),
            database_replica_urls=tuple(
                normalize_database_url(url) for url in replicas.split(",") if url.strip()
            ),
        )

    def with_changes(self, **changes: object) -> Settings:
        """A copy with some fields replaced."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def is_sqlite(self) -> bool:
        """True when the database is a SQLite file."""
        return self.database_url.startswith("sqlite")


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name) or str(default)
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {text!r}") from None


def _switch(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    text = (env.get(name) or "").strip().lower()
    if not text:
        return default
    if text in ("on", "true", "1", "yes"):
        return True
    if text in ("off", "false", "0", "no"):
        return False
    raise ValueError(f"{name} must be on or off, not {text!r}")


def sqlite_url(path: Path) -> str:
    """The async SQLAlchemy URL of a SQLite file."""
    return f"sqlite+aiosqlite:///{path}"


def normalize_database_url(url: str) -> str:
    """The SQLAlchemy URL the server runs on for a database URL as people write it.

    ``sqlite:///path`` gets the aiosqlite driver, ``postgresql://`` and ``postgres://`` psycopg;
    the rest of the URL is kept as it is. Any other database is a ``ValueError`` in one line
    that names the scheme only (a URL may hold a password).
    """
    scheme, separator, rest = url.strip().partition("://")
    if not separator:
        raise ValueError(f"the database URL is not a URL: write {_URL_FORMS}")
    driver = _DRIVERS.get(scheme.lower())
    if driver is None:
        raise ValueError(
            f"unsupported database URL scheme {scheme + '://'!r}: exisone-server runs on SQLite "
            f"and PostgreSQL; write {_URL_FORMS}"
        )
    return f"{driver}://{rest}"
