"""CLI settings: command-line flags > environment > config file (INI). Stdlib only.

The config file is ``$EXISONE_CONFIG``, else ``$XDG_CONFIG_HOME/exisone/config.ini`` (default
``~/.config/exisone/config.ini``; ``%APPDATA%\\exisone\\config.ini`` on Windows), one section::

    [exisone]
    base_url = https://licensing.example.com
    token = exo_at_<public>_<secret>
    public_key_file = tenant-public-key.pem   ; relative to the config file's folder
"""

from __future__ import annotations

import configparser
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ENV_CONFIG",
    "ENV_VARS",
    "FIELDS",
    "PATH_FIELDS",
    "SECTION",
    "ConfigFileError",
    "Resolved",
    "Settings",
    "default_config_path",
    "mask_token",
    "read_config_file",
    "resolve",
    "write_config_value",
]

SECTION = "exisone"
ENV_CONFIG = "EXISONE_CONFIG"
#: Every setting and its environment variable, in display order.
ENV_VARS: dict[str, str] = {
    "base_url": "EXISONE_BASEURL",
    "token": "EXISONE_TOKEN",
    "public_key_file": "EXISONE_PUBLIC_KEY_FILE",
    "ca_bundle": "EXISONE_CA_BUNDLE",
    "product": "EXISONE_PRODUCT",
    "hardware_id": "EXISONE_HARDWARE_ID",
}
FIELDS = tuple(ENV_VARS)
#: File paths: relative ones in the config file are read from the config file's folder.
PATH_FIELDS = frozenset({"public_key_file", "ca_bundle"})


class ConfigFileError(Exception):
    """The config file cannot be read or written."""


@dataclass(frozen=True)
class Resolved:
    """A setting's value and where it came from: ``flag``, ``env``, ``file``, or ``unset``."""

    value: str | None
    source: str


@dataclass(frozen=True)
class Settings:
    """The resolved settings of one CLI invocation."""

    values: Mapping[str, Resolved]
    config_path: Path
    config_exists: bool = False
    unknown_keys: tuple[str, ...] = field(default=())

    def get(self, name: str) -> str | None:
        return self.values[name].value


def default_config_path(environ: Mapping[str, str]) -> Path:
    """``$EXISONE_CONFIG``, else the per-user config file location."""
    explicit = environ.get(ENV_CONFIG, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "win32" and environ.get("APPDATA"):
        return Path(environ["APPDATA"]) / "exisone" / "config.ini"
    base = environ.get("XDG_CONFIG_HOME", "").strip()
    root = Path(base) if base else Path.home() / ".config"
    return root / "exisone" / "config.ini"


def read_config_file(path: Path, *, required: bool) -> dict[str, str]:
    """The ``[exisone]`` values of ``path`` (relative paths made absolute); ``{}`` if missing.

    A missing file is an error only when ``required`` (it was named with ``--config``).
    """
    if not path.is_file():
        if required:
            raise ConfigFileError(f"config file {str(path)!r} does not exist")
        return {}
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with path.open(encoding="utf-8") as handle:
            parser.read_file(handle)
    except (OSError, UnicodeDecodeError, configparser.Error) as error:
        reason = str(error).splitlines()[0]
        raise ConfigFileError(f"config file {str(path)!r} is unreadable: {reason}") from error
    if not parser.has_section(SECTION):
        return {}
    values: dict[str, str] = {}
    for name, raw in parser.items(SECTION):
        value = raw.strip()
        if name in PATH_FIELDS and value:
            value = str((path.parent / Path(value).expanduser()).resolve())
        values[name] = value
    return values


def resolve(
    flags: Mapping[str, str | None],
    environ: Mapping[str, str],
    config_path: str | None = None,
) -> Settings:
    """Merge flags, environment and the config file (``config_path`` or the default one)."""
    path = Path(config_path).expanduser() if config_path else default_config_path(environ)
    file_values = read_config_file(path, required=bool(config_path))
    values: dict[str, Resolved] = {}
    for name, variable in ENV_VARS.items():
        flag = flags.get(name)
        env = environ.get(variable, "").strip()
        from_file = file_values.get(name, "")
        if flag is not None and flag.strip():
            values[name] = Resolved(flag.strip(), "flag")
        elif env:
            values[name] = Resolved(env, "env")
        elif from_file:
            values[name] = Resolved(from_file, "file")
        else:
            values[name] = Resolved(None, "unset")
    unknown = tuple(sorted(set(file_values) - set(FIELDS)))
    return Settings(values, path, path.is_file(), unknown)


def write_config_value(path: Path, name: str, value: str | None) -> None:
    """Set (or, with ``None``, remove) one setting in the config file, created with mode 0600."""
    if name not in ENV_VARS:
        raise ConfigFileError(f"unknown setting {name!r} (known: {', '.join(FIELDS)})")
    parser = configparser.ConfigParser(interpolation=None)
    try:
        if path.is_file():
            with path.open(encoding="utf-8") as handle:
                parser.read_file(handle)
        if not parser.has_section(SECTION):
            parser.add_section(SECTION)
        if value is None:
            parser.remove_option(SECTION, name)
        else:
            parser.set(SECTION, name, value)
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            parser.write(handle)
    except (OSError, UnicodeDecodeError, configparser.Error) as error:
        reason = str(error).splitlines()[0]
        raise ConfigFileError(f"config file {str(path)!r}: {reason}") from error


def mask_token(token: str | None) -> str | None:
    """``exo_at_<public>_****``: the public id stays, the secret never shows."""
    if not token:
        return token
    if token.startswith("exo_at_") and token.count("_") >= 3:
        public = token[len("exo_at_") :].split("_", 1)[0]
        return f"exo_at_{public}_****"
    return f"{token[:4]}****" if len(token) > 12 else "****"
