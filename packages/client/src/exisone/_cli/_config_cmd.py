"""``exisone config``: show the resolved settings, set or unset one in the config file."""

from __future__ import annotations

from pathlib import Path

import click

from ._config import FIELDS, PATH_FIELDS, ConfigFileError, mask_token, write_config_value
from ._errors import CliError
from ._state import common_options, get_state

__all__ = ["config"]


@click.group()
def config() -> None:
    """Settings: flags > environment > config file."""


@config.command("show")
@common_options
@click.pass_context
def show(context: click.Context) -> None:
    """Every setting, its value and where it comes from (the token's secret is masked)."""
    state = get_state(context)
    settings = state.settings()
    values = {}
    for name in FIELDS:
        resolved = settings.values[name]
        value = mask_token(resolved.value) if name == "token" else resolved.value
        values[name] = {"value": value, "source": resolved.source}
    data = {
        "configFile": str(settings.config_path),
        "configFileExists": settings.config_exists,
        "settings": values,
        "unknownKeys": list(settings.unknown_keys),
    }
    rows = [[name, item["value"], item["source"]] for name, item in values.items()]
    exists = "" if settings.config_exists else " (not created yet)"
    state.output.table(
        data, ["Setting", "Value", "Source"], rows, caption=f"{settings.config_path}{exists}"
    )
    if settings.unknown_keys:
        state.output.note(f"ignored unknown keys: {', '.join(settings.unknown_keys)}")


@config.command("set")
@click.argument("name", type=click.Choice(FIELDS))
@click.argument("value")
@common_options
@click.pass_context
def set_(context: click.Context, name: str, value: str) -> None:
    """Store a setting in the config file (created with mode 0600)."""
    state = get_state(context)
    path = state.config_file()
    if name in PATH_FIELDS:
        value = str(Path(value).expanduser().resolve())
    _write(path, name, value)
    shown = mask_token(value) if name == "token" else value
    state.output.success(
        f"{name} = {shown} in {path}", {"configFile": str(path), "name": name, "value": shown}
    )


@config.command("unset")
@click.argument("name", type=click.Choice(FIELDS))
@common_options
@click.pass_context
def unset(context: click.Context, name: str) -> None:
    """Remove a setting from the config file."""
    state = get_state(context)
    path = state.config_file()
    _write(path, name, None)
    state.output.success(f"{name} removed from {path}", {"configFile": str(path), "name": name})


@config.command("path")
@common_options
@click.pass_context
def path(context: click.Context) -> None:
    """The config file's location."""
    state = get_state(context)
    where = state.config_file()
    state.output.value(str(where), {"configFile": str(where)})


def _write(path: Path, name: str, value: str | None) -> None:
    try:
        write_config_value(path, name, value)
    except ConfigFileError as error:
        raise CliError(str(error), "config_error") from error
