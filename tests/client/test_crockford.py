"""Crockford base32 as the offline codes use it (and the protocol's test vectors)."""

import pytest

from exisone._exceptions import InvalidOfflineCode
from exisone._offline import _crockford


@pytest.mark.parametrize(
    ("symbols", "expected"),
    [
        pytest.param("", b"", id="empty"),
        pytest.param("CR", b"f", id="one-byte"),
        pytest.param("C-R", b"f", id="dash-ignored"),
        pytest.param("cr", b"f", id="lower-case"),
        pytest.param("CSQPYRK1", bytes.fromhex("666f6f6261"), id="fooba"),
        pytest.param("ZZZZZZZZ", bytes.fromhex("ffffffffff"), id="all-ones"),
        pytest.param("00", b"\x00", id="zero"),
        pytest.param("0", b"", id="lone-symbol-is-no-byte"),
    ],
)
def test_decode_reference_vectors(symbols: str, expected: bytes) -> None:
    assert _crockford.decode(symbols) == expected


@pytest.mark.parametrize(
    ("data", "symbols"),
    [
        (b"f", "CR"),
        (b"foobar", "CSQPYRK1E8"),
        (bytes.fromhex("00ff10807f"), "03ZH103Z"),
        (b"", ""),
    ],
)
def test_encode_reference_vectors(data: bytes, symbols: str) -> None:
    assert _crockford.encode(data) == symbols
    assert _crockford.decode(symbols, strict=True) == data


def test_confusable_letters_map_to_digits() -> None:
    assert _crockford.decode("CSQPYRKI") == _crockford.decode("CSQPYRK1")
    assert _crockford.decode("CSQPYRKl") == _crockford.decode("CSQPYRK1")
    assert _crockford.decode("O3ZH1O3Z") == _crockford.decode("03ZH103Z")


@pytest.mark.parametrize("bad", ["CU", "C*R", "CR!", "ÇR"])
def test_stray_character_is_named(bad: str) -> None:
    with pytest.raises(InvalidOfflineCode, match="not a valid character"):
        _crockford.decode(bad)


@pytest.mark.parametrize("text", ["CR0", "CR1", "CT"])
def test_strict_rejects_non_canonical_text(text: str) -> None:
    with pytest.raises(InvalidOfflineCode, match="extra characters"):
        _crockford.decode(text, strict=True)


def test_whitespace_and_newlines_are_separators() -> None:
    assert _crockford.decode("CSQ PY\nRK1\t") == bytes.fromhex("666f6f6261")


def test_group_inserts_dashes() -> None:
    assert _crockford.group("ABCDEFGHIJK", 5) == "ABCDE-FGHIJ-K"
