"""The portal's colours: a tenant's accent colour and a text colour readable on it."""

from __future__ import annotations

import re

__all__ = ["DEFAULT_ACCENT", "check_accent", "text_on", "theme_css"]

#: The accent of a portal without its own (white text on it passes WCAG AA).
DEFAULT_ACCENT = "#1f4fae"
_HEX = re.compile(r"^#[0-9a-f]{6}$")


def check_accent(text: str) -> str:
    """``#rrggbb`` in lower case; ValueError otherwise."""
    colour = text.strip().lower()
    if not _HEX.match(colour):
        raise ValueError("The accent colour must look like #1f4fae.")
    return colour


def _luminance(colour: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _contrast(first: float, second: float) -> float:
    high, low = max(first, second), min(first, second)
    return (high + 0.05) / (low + 0.05)


def text_on(colour: str) -> str:
    """Black or white, whichever contrasts more with ``colour``."""
    light = _luminance(colour)
    return "#ffffff" if _contrast(light, 1.0) >= _contrast(light, 0.0) else "#000000"


def theme_css(accent: str | None) -> str:
    """The stylesheet that sets the portal's colour variables."""
    colour = accent or DEFAULT_ACCENT
    return f":root {{ --accent: {colour}; --accent-text: {text_on(colour)}; }}\n"
