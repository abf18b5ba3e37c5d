"""The ``exisone`` command group: options shared by all commands, and error handling.

Every error ends as one line on stderr and a non-zero exit code (see ``_errors``), never a
traceback: SDK exceptions, config-file problems and file errors are caught here.
"""

from __future__ import annotations

import os
from typing import Any

import click

from .. import __version__
from .._exceptions import ExisOneError
from . import _config_cmd, _keys, _lease, _license, _offline
from ._errors import CliError, describe
from ._state import State, common_options, get_state

__all__ = ["ENV_DEBUG", "cli"]

#: Set to show the traceback of an unexpected error.
ENV_DEBUG = "EXISONE_DEBUG"


class RootGroup(click.Group):
    """Gives each invocation a fresh :class:`State` and turns errors into one line."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        extra.setdefault("obj", State())
        return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as error:
            _fail(ctx, error)
        except ExisOneError as error:
            state = get_state(ctx)
            _fail(ctx, describe(error, state.settings().get("base_url")))
        except OSError as error:  # a CSV or output file that cannot be written, stdin, ...
            where = f": {error.filename}" if error.filename else ""
            _fail(ctx, CliError(f"{error.strerror or error}{where}", "os_error"))
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # usage errors (exit code 2), ctx.exit(), Ctrl-C: click handles them
        except Exception as error:  # a bug: one line, the traceback only on request
            if os.environ.get(ENV_DEBUG):
                raise
            message = (
                f"internal error: {type(error).__name__}: {error} (set {ENV_DEBUG}=1 to see where)"
            )
            _fail(ctx, CliError(message, "internal_error"))


def _fail(context: click.Context, error: CliError) -> None:
    get_state(context).output.error(error.code, error.message, error.extra)
    context.exit(error.exit_code)


@click.group(cls=RootGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="exisone")
@common_options
def cli() -> None:
    """ExisOne licensing from the command line: activate, validate, generate keys.

    Settings come from options, else the environment (EXISONE_BASEURL, EXISONE_TOKEN, ...),
    else the config file (see `exisone config path`). Exit codes: 0 ok, 1 error, 2 bad
    usage, 3 license not valid (validate, offline verify, lease verify).
    """


for command in (
    *_license.COMMANDS,
    _keys.keys,
    _offline.offline,
    _lease.lease,
    _config_cmd.config,
):
    cli.add_command(command)
