"""Numeric comparison of application versions (``1.10`` is newer than ``1.9``)."""

from __future__ import annotations

import re

__all__ = ["is_older", "parse_version"]

_NUMBER = re.compile(r"\d+")


def parse_version(text: str) -> tuple[int, ...]:
    """The numbers of a version string, trailing zeros dropped: ``v1.2.0-beta`` → ``(1, 2)``.

    Every run of digits counts, so ``1.2.3.4`` and ``2024.1`` work; text without digits is ``()``.
    """
    numbers = [int(part) for part in _NUMBER.findall(text)]
    while numbers and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


def is_older(version: str, minimum: str) -> bool:
    """True when ``version`` is numerically below ``minimum``."""
    return parse_version(version) < parse_version(minimum)
