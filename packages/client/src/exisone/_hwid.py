"""The module-level ``generate_hardware_id()`` export; the fingerprint lives in ``_hardware``."""

from __future__ import annotations

import importlib

__all__ = ["generate_hardware_id"]


def generate_hardware_id(mode: str = "stable") -> str:
    """This machine's hardware ID (64 upper-case hex characters), computed once per process.

    ``mode="stable"`` (default) ignores volatile inputs; ``mode="legacy"`` reproduces
    exisone-client 0.10.0 exactly, for licenses activated with the official SDK.
    """
    module = importlib.import_module("exisone._hardware")
    return str(module.generate_hardware_id(mode))
