"""The two hardware-ID combiners: the legacy reference vectors and the stable framing."""

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exisone._hardware import LEGACY_SALT, STABLE_SALT, legacy_hash, stable_hash

HEX64 = re.compile(r"[0-9A-F]{64}")


@pytest.mark.parametrize(
    ("components", "expected"),
    [
        ([], "1C7B179129A5DB0B10FE9837E45E7AA7F3C3A7182C0101D86C363FDFE120B2B3"),
        (["abc", "def"], "E9210ABE35D360E5D344E0CACEB3075773DD5B21DEB75D28AC7565E23FECFD4F"),
        (
            [
                "0123456789abcdef0123456789abcdef",
                "AABBCCDDEEFF",
                "x64",
                "8",
                "myhost",
                "Linux-6.1.0-18-amd64-x86_64-with-glibc2.36",
            ],
            "5382C8ED8B2AAD4AEEAF8A8733F7C9C0AED24AD0FA0B2AE8B48932727539A197",
        ),
    ],
)
def test_legacy_reference_vectors(components: list[str], expected: str) -> None:
    """The protocol's vector: salt + components with no separator, SHA-256, upper hex."""
    assert legacy_hash(components) == expected


def test_legacy_salt_is_the_official_one() -> None:
    assert LEGACY_SALT == "ExisOneHardwareSalt_v1"


def test_legacy_combiner_is_ambiguous_as_documented() -> None:
    """Kept for compatibility: regrouping the same characters gives the same ID."""
    assert legacy_hash(["ab", "c"]) == legacy_hash(["a", "bc"])


def test_stable_combiner_frames_each_component() -> None:
    assert stable_hash(["ab", "c"]) != stable_hash(["a", "bc"])
    assert stable_hash([]) != stable_hash([""])
    assert stable_hash(["machine-id", "x"]) != legacy_hash(["machine-id", "x"])


def test_stable_combiner_has_a_versioned_salt_of_its_own() -> None:
    assert STABLE_SALT != LEGACY_SALT
    assert STABLE_SALT.endswith("/v1")
    # Pinned: changing the salt or the framing changes every customer's ID.
    framed = b"27:ExisOneHardwareId/stable/v1,10:machine-id,32:0123456789abcdef0123456789abcdef,"
    expected = "5C4CA7236648A7AB63F295DB0C0E0D51536312C95E2177D117586615A2470B2E"
    assert hashlib.sha256(framed).hexdigest().upper() == expected
    assert stable_hash(["machine-id", "0123456789abcdef0123456789abcdef"]) == expected


def test_stable_combiner_counts_bytes_not_characters() -> None:
    framed = "27:ExisOneHardwareId/stable/v1,2:é,".encode()
    assert stable_hash(["é"]) == hashlib.sha256(framed).hexdigest().upper()


@given(st.lists(st.text()), st.lists(st.text()))
def test_stable_combiner_separates_distinct_lists(left: list[str], right: list[str]) -> None:
    digest = stable_hash(left)
    assert HEX64.fullmatch(digest)
    if left != right:
        assert digest != stable_hash(right)
