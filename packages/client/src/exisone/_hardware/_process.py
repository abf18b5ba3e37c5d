"""Run a short command and return its standard output, or None on any failure."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from typing import Callable, Optional

__all__ = ["Runner", "run_stdout"]

Runner = Callable[[Sequence[str]], Optional[str]]
"""Takes an argv, returns the command's stdout as text, or None if it could not run or failed."""

_TIMEOUT_SECONDS = 5.0
# Keeps console windows from flashing on Windows; the attribute does not exist elsewhere (0).
_CREATION_FLAGS: int = getattr(subprocess, "CREATE_NO_WINDOW", 0)


def run_stdout(argv: Sequence[str]) -> str | None:
    """Stdout decoded as locale text when the command exits 0 within 5 s, else None."""
    try:
        completed = subprocess.run(
            list(argv),
            # stdin is inherited, as the official client does: wmic can wait on an open stdin
            # pipe until the timeout, and legacy IDs must lose that value exactly when it does.
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_SECONDS,
            creationflags=_CREATION_FLAGS,
            check=False,
        )
    except (OSError, ValueError, subprocess.SubprocessError):
        # Missing binary, timeout, undecodable output (UnicodeDecodeError is a ValueError).
        return None
    return completed.stdout if completed.returncode == 0 else None
