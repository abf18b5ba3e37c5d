"""What the numbers were measured on: cores, CPU model, OS, Python."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

__all__ = ["cpu_model", "describe_machine"]


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU model name (Linux ``/proc/cpuinfo``), else what :mod:`platform` knows."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            return value.strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def describe_machine() -> dict[str, Any]:
    """Facts about this machine and interpreter, plus a one-line summary for the docs."""
    cores = os.cpu_count() or 1
    model = cpu_model()
    python = f"{platform.python_implementation()} {platform.python_version()}"
    system = f"{platform.system()} {platform.release()}"
    return {
        "cores": cores,
        "cpu_model": model,
        "os": system,
        "python": python,
        "summary": f"{cores} cores, {model}, {system}, {python}",
    }
