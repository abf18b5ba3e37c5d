"""Crockford base32 as the ExisOne offline codes use it.

Five bits a symbol, most significant first, over the alphabet ``0-9 A-Z`` without I, L, O, U.
The encoder pads the last symbol with zero bits; the decoder drops the leftover (< 8) bits, so
``ceil(8n/5)`` symbols hold ``n`` bytes. Decoding is forgiving where Crockford says it should be
(case, dashes, spaces, ``I``/``L`` read as ``1`` and ``O`` as ``0``) and strict everywhere else:
any other character is an error that names it, where the official SDKs silently skip it.
"""

from __future__ import annotations

from .._exceptions import InvalidOfflineCode

__all__ = ["ALPHABET", "decode", "encode", "group"]

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

_VALUES = {symbol: value for value, symbol in enumerate(ALPHABET)}
_VALUES.update({"I": 1, "L": 1, "O": 0})
_SEPARATORS = frozenset("- \t\r\n")


def encode(data: bytes) -> str:
    """Encode bytes as upper-case Crockford base32 symbols, without separators."""
    number = int.from_bytes(data, "big")
    bits = 8 * len(data)
    symbols = -(-bits // 5)
    number <<= 5 * symbols - bits
    out = []
    for shift in range(5 * (symbols - 1), -1, -5):
        out.append(ALPHABET[(number >> shift) & 31])
    return "".join(out)


def decode(text: str, *, strict: bool = False) -> bytes:
    """Decode symbols (any case, with dashes or white space) into bytes.

    Raises :class:`InvalidOfflineCode` naming the first character that is not base32. With
    ``strict``, also when the text is not exactly what :func:`encode` makes of the bytes: a
    symbol too many, or padding bits that are not zero.
    """
    number = 0
    count = 0
    for position, char in enumerate(text):
        if char in _SEPARATORS:
            continue
        value = _VALUES.get(char.upper())
        if value is None:
            raise InvalidOfflineCode(
                f"Offline code contains {char!r} at position {position + 1}, which is not a "
                "valid character (allowed: 0-9 and A-Z except U; dashes and spaces are ignored)"
            )
        number = (number << 5) | value
        count += 1
    size = 5 * count // 8
    spare = 5 * count - 8 * size
    if strict and (spare >= 5 or number & ((1 << spare) - 1)):
        raise InvalidOfflineCode(
            "Offline code has extra characters at its end, or is cut off (check that it was "
            "copied completely)"
        )
    return (number >> (5 * count - 8 * size)).to_bytes(size, "big") if size else b""


def group(symbols: str, size: int = 5) -> str:
    """Insert a dash every ``size`` symbols, for people reading or typing the code."""
    return "-".join(symbols[i : i + size] for i in range(0, len(symbols), size))
