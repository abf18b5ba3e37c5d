"""The state directory: where it is, and atomic JSON files in it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Union

__all__ = ["ENV_STATE_DIR", "StateDir", "StateDirOption", "resolve_state_dir"]

#: Overrides the default directory (tests, sandboxes); ``state_dir=`` overrides both.
ENV_STATE_DIR = "EXISONE_STATE_DIR"
#: A directory, ``None`` (env or the per-user default), or ``False`` (keep nothing on disk).
StateDirOption = Union[str, "os.PathLike[str]", bool, None]
_LAYOUT = "state-v1"


def resolve_state_dir(option: StateDirOption) -> Path | None:
    """The directory for ``option``; ``None`` when state is disabled (``False``)."""
    if option is False:
        return None
    if option is None or option is True:
        env = os.environ.get(ENV_STATE_DIR, "").strip()
        if env:
            return Path(env)
        import platformdirs

        return Path(platformdirs.user_data_dir("exisone", appauthor=False)) / _LAYOUT
    return Path(os.fspath(option))


class StateDir:
    """Small JSON files under one directory, written atomically (temp file + ``os.replace``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, folder: str, name: str) -> Path:
        return self.root / folder / name

    def read(self, path: Path) -> dict[str, Any] | None:
        """The file's JSON object; ``None`` when missing or unreadable (treated as absent)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write(self, path: Path, data: dict[str, Any]) -> None:
        """Replace ``path`` with ``data`` in one step: readers see the old or the new file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(data, separators=(",", ":"), sort_keys=True)
        fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=str(path.parent))
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    def remove(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()

    def files(self, folder: str) -> list[Path]:
        try:
            return sorted(p for p in (self.root / folder).glob("*.json") if p.is_file())
        except OSError:
            return []


def file_name(*parts: str) -> str:
    """A stable file name from parts (license key, hardware ID...) that reveals none of them."""
    digest = hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()
    return f"{digest[:40]}.json"
