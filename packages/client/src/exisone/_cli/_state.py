"""One invocation's state: the flags given, the resolved settings, the output and the client."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

import click

from .._client import ExisOneClient
from ._config import ConfigFileError, Settings, default_config_path, resolve
from ._errors import CliError
from ._output import Output

__all__ = ["State", "common_options", "get_state", "public_key_option"]


@dataclass
class State:
    """Filled by the option callbacks (root group and command), read by the commands."""

    flags: dict[str, str] = field(default_factory=dict)
    config_path: str | None = None
    as_json: bool = False
    _settings: Settings | None = None
    _client: ExisOneClient | None = None

    @property
    def output(self) -> Output:
        return Output(self.as_json)

    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = resolve(self.flags, os.environ, self.config_path)
            except ConfigFileError as error:
                raise CliError(str(error), "config_error") from error
        return self._settings

    def config_file(self) -> Path:
        """The config file's path (``--config``, ``EXISONE_CONFIG`` or the default); unread."""
        if self.config_path:
            return Path(self.config_path).expanduser()
        return default_config_path(os.environ)

    def setting(self, name: str) -> str | None:
        return self.settings().get(name)

    def require(self, name: str, flag: str) -> str:
        """A setting that must be present, else a usage error naming all three sources."""
        value = self.setting(name)
        if value:
            return value
        from ._config import ENV_VARS

        raise click.UsageError(
            f"missing {flag} (or set {ENV_VARS[name]}, or `exisone config set {name} ...`)"
        )

    def public_key_pem(self) -> str | None:
        """The PEM of ``public_key_file``, if one is configured."""
        path = self.setting("public_key_file")
        if not path:
            return None
        try:
            return Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise CliError(f"cannot read the public key file {path!r}: {reason}") from error

    def client(self, context: click.Context) -> ExisOneClient:
        """The SDK client of the configured server (made once, closed with the command)."""
        if self._client is None:
            base_url = self.require("base_url", "--base-url")
            self._client = ExisOneClient(
                base_url=base_url,
                access_token=self.setting("token") or "",
                offline_public_key=self.public_key_pem(),
                hardware_id_override=self.setting("hardware_id"),
                verify=self.setting("ca_bundle") or True,
            )
            context.find_root().call_on_close(self._client.close)
        return self._client

    def hardware_id(self, given: str | None, legacy: bool = False) -> str:
        """``--hwid``, else the configured override, else this machine's fingerprint."""
        if given and given.strip():
            return given.strip()
        override = self.setting("hardware_id")
        if override:
            return override
        from .._hwid import generate_hardware_id

        return generate_hardware_id("legacy" if legacy else "stable")


def get_state(context: click.Context) -> State:
    state = context.find_object(State)
    if state is None:  # a command run without the root group (not through `exisone`)
        state = context.find_root().ensure_object(State)
    return state


F = TypeVar("F", bound=Callable[..., Any])


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    """An option callback that records a given value in the invocation's :class:`State`."""

    def callback(context: click.Context, _param: click.Parameter, value: Any) -> None:
        if value is None or value is False:
            return
        state = get_state(context)
        if name == "json":
            state.as_json = True
        elif name == "config":
            state.config_path = str(value)
        else:
            state.flags[name] = str(value)

    return callback


def _option(*names: str, store: str, **kwargs: Any) -> Callable[[F], F]:
    return click.option(*names, expose_value=False, callback=_store(store), **kwargs)


#: Accepted by the root group and by every command (the command's value wins).
_COMMON = (
    _option("--json", store="json", is_flag=True, help="Print JSON only (errors: JSON on stderr)."),
    _option("--base-url", store="base_url", metavar="URL", help="Server URL [EXISONE_BASEURL]."),
    _option("--token", store="token", metavar="TOKEN", help="Access token [EXISONE_TOKEN]."),
    _option(
        "--ca-bundle",
        store="ca_bundle",
        metavar="FILE",
        help="CA certificates to trust for HTTPS [EXISONE_CA_BUNDLE].",
    ),
    _option("--config", store="config", metavar="FILE", help="Config file [EXISONE_CONFIG]."),
)


def common_options(function: F) -> F:
    """Add ``--json``, ``--base-url``, ``--token``, ``--ca-bundle`` and ``--config``."""
    for option in reversed(_COMMON):
        function = option(function)
    return function


def public_key_option(function: F) -> F:
    """``--public-key FILE`` (offline verification) [EXISONE_PUBLIC_KEY_FILE]."""
    return _option(
        "--public-key",
        store="public_key_file",
        metavar="FILE",
        help="Tenant public key PEM for offline codes [EXISONE_PUBLIC_KEY_FILE].",
    )(function)
