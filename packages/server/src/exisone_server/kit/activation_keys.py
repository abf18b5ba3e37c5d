"""Online activation keys: ``XXXX-XXXX-XXXX-XXXX`` from an unambiguous alphabet."""

from __future__ import annotations

import secrets

__all__ = ["KEY_ALPHABET", "generate_activation_key", "normalize_activation_key"]

#: Crockford's base32 symbols: no I, L, O, U, so keys read back without confusion.
KEY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def generate_activation_key(groups: int = 4, group_size: int = 4) -> str:
    """A fresh random key (80 bits for the default 4×4), e.g. ``7KQ2-M9XD-3B4T-ZR8P``."""
    return "-".join(
        "".join(secrets.choice(KEY_ALPHABET) for _ in range(group_size)) for _ in range(groups)
    )


def normalize_activation_key(key: str) -> str:
    """How keys are stored and looked up: surrounding whitespace removed, upper case."""
    return key.strip().upper()
