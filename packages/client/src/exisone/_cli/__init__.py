"""The ``exisone`` command-line tool (``pip install 'exisone[cli]'``).

A private subpackage: ``import exisone`` never loads it, nor click or rich.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    """Entry point of the ``exisone`` script."""
    try:
        import click  # noqa: F401
        import rich  # noqa: F401
    except ImportError:
        sys.stderr.write(
            "error: the exisone command needs click and rich: pip install 'exisone[cli]'\n"
        )
        raise SystemExit(1) from None
    from ._app import cli

    cli(prog_name="exisone")
