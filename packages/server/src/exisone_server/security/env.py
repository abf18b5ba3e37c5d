"""Whole numbers from ``EXISONE_*`` environment variables, for the settings classes."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["env_count"]


def env_count(env: Mapping[str, str], name: str, default: int) -> int:
    """``EXISONE_<name>`` as a whole number of 0 or more (``default`` when unset or empty)."""
    variable = f"EXISONE_{name}"
    text = env.get(variable)
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{variable} must be a whole number, not {text!r}") from None
    if value < 0:
        raise ValueError(f"{variable} must be 0 or more")
    return value
