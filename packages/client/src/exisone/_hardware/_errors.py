"""The one error the hardware-ID code raises on purpose."""

from __future__ import annotations

from .._exceptions import ExisOneError

__all__ = ["HardwareIdError"]


class HardwareIdError(ExisOneError):
    """No stable machine identifier could be read here; set ``hardware_id_override`` instead."""
