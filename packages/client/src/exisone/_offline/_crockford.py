"""Crockford base32 as the ExisOne offline codes use it.

Five bits a symbol, most significant first, over the alphabet ``0-9 A-Z`` without I, L, O, U.
The encoder pads the last symbol with zero bits; the decoder drops the leftover (< 8) bits, so
``ceil(8n/5)`` symbols hold ``n`` bytes. Decoding is forgiving where Crockford says it should be
(case, dashes, spaces, ``I``/``L`` read as ``1`` and ``O`` as ``0``) and strict everywhere else:
any other character is an error that names it, where the official SDKs silently skip it.
"""

from __future__ import annotations

import base64
from typing import NoReturn

from .._exceptions import InvalidOfflineCode

__all__ = ["ALPHABET", "decode", "encode", "group"]

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

# Decoding runs in C: the ASCII text is translated byte for byte to the digit of the same value
# in Python's base-32 integer notation (0-9, a-v), separators deleted and every other byte made
# "!", so int(..., 32) reads the whole code at once or fails on a stray character.
_DIGITS = "0123456789abcdefghijklmnopqrstuv"
_VALUES = {symbol: value for value, symbol in enumerate(ALPHABET)}
_VALUES.update({"I": 1, "L": 1, "O": 0})
_SEPARATORS = "- \t\r\n"
_TABLE = bytearray(b"!" * 256)
for _symbol, _value in _VALUES.items():
    _TABLE[ord(_symbol)] = _TABLE[ord(_symbol.lower())] = ord(_DIGITS[_value])
_TO_DIGITS = bytes(_TABLE)
_DELETE = _SEPARATORS.encode("ascii")
# Encoding goes through the standard library's RFC 4648 codec (same values, other letters).
_FROM_RFC = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET)


def encode(data: bytes) -> str:
    """Encode bytes as upper-case Crockford base32 symbols, without separators."""
    return base64.b32encode(data).decode("ascii").rstrip("=").translate(_FROM_RFC)


def decode(text: str, *, strict: bool = False) -> bytes:
    """Decode symbols (any case, with dashes or white space) into bytes.

    Raises :class:`InvalidOfflineCode` naming the first character that is not base32. With
    ``strict``, also when the text is not exactly what :func:`encode` makes of the bytes: a
    symbol too many, or padding bits that are not zero.
    """
    try:
        digits = text.encode("ascii").translate(_TO_DIGITS, _DELETE)
        number = int(digits, 32) if digits else 0
    except (UnicodeEncodeError, ValueError):
        _raise_for_stray_character(text)
    count = len(digits)
    size = 5 * count // 8
    spare = 5 * count - 8 * size
    if strict and (spare >= 5 or number & ((1 << spare) - 1)):
        raise InvalidOfflineCode(
            "Offline code has extra characters at its end, or is cut off (check that it was "
            "copied completely)"
        )
    return (number >> spare).to_bytes(size, "big")


def _raise_for_stray_character(text: str) -> NoReturn:
    for position, char in enumerate(text):
        if char in _SEPARATORS:
            continue
        if not char.isascii() or char.upper() not in _VALUES:
            raise InvalidOfflineCode(
                f"Offline code contains {char!r} at position {position + 1}, which is not a "
                "valid character (allowed: 0-9 and A-Z except U; dashes and spaces are ignored)"
            )
    raise AssertionError("unreachable: no stray character found")  # pragma: no cover


def group(symbols: str, size: int = 5) -> str:
    """Insert a dash every ``size`` symbols, for people reading or typing the code."""
    return "-".join(symbols[i : i + size] for i in range(0, len(symbols), size))
