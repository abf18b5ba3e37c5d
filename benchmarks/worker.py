"""A timing script running in another interpreter, driven over JSON lines on stdin/stdout.

The official SDK installs the import name ``exisone`` too, so it lives in its own venv and is
timed in a subprocess. Ours is timed the same way (same script, same protocol) so that both
sides pay the same costs. Each request is one JSON object per line; each reply is
``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["Worker", "WorkerError"]


class WorkerError(RuntimeError):
    """The worker replied with an error, or died; the message says which and why."""


class Worker:
    """One worker process: ``python -I script *args``. Use as a context manager."""

    def __init__(
        self,
        name: str,
        python: Path,
        script: Path,
        args: tuple[str, ...] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        if not python.exists():
            raise WorkerError(f"{name}: interpreter {python} does not exist")
        self._stderr = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115 (closed in close())
        # -I: no script folder, no PYTHON* variables, no user site: only the venv's packages.
        self._process = subprocess.Popen(
            [str(python), "-I", str(script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
            env=None if env is None else dict(env),
        )

    def call(self, op: str, **params: Any) -> dict[str, Any]:
        """Send one request and return the reply; raise :class:`WorkerError` on failure."""
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(json.dumps({"op": op, **params}) + "\n")
            stdin.flush()
            line = stdout.readline()
        except (BrokenPipeError, OSError) as exc:
            raise WorkerError(
                f"{self.name}: worker is gone ({exc}); {self._stderr_tail()}"
            ) from exc
        if not line:
            self._process.wait(timeout=5)
            raise WorkerError(
                f"{self.name}: worker exited with {self._process.returncode}; {self._stderr_tail()}"
            )
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            raise WorkerError(f"{self.name}: {reply.get('error', 'unknown error')}")
        return reply

    def close(self) -> None:
        """Ask the worker to exit, and make sure it does."""
        if self._process.poll() is None:
            try:
                assert self._process.stdin is not None
                self._process.stdin.close()
                self._process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._stderr.close()

    def _stderr_tail(self, limit: int = 2000) -> str:
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", errors="replace").strip()
        return f"stderr: {text[-limit:]}" if text else "no stderr"

    def __enter__(self) -> Worker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
