"""docs/protocol.md: its examples run, its tables list exactly the codes of exisone.protocol."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exisone import protocol
from exisone.protocol import ErrorCode, ValidationReason

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
ERRORS_PAGE = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE, re.S)


def table(heading: str) -> list[list[str]]:
    """The rows (cells without backticks) of the first table whose header row starts so."""
    start = PAGE.index(f"| {heading} |")
    rows = []
    for line in PAGE[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip().strip("`") for cell in line.strip("|").split("|")])
    return rows


def test_every_block_runs_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    assert len(BLOCKS) >= 4
    namespace: dict[str, object] = {"__name__": "__protocol_page__"}
    for index, block in enumerate(BLOCKS, 1):
        exec(compile(block, f"protocol.md block {index}", "exec"), namespace)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("Offline code contains 'U' at position 21, which is not a valid")
    assert printed[1].startswith("ExisOne-Signature refused: the answer's signature does not")


def test_the_error_table_lists_exactly_the_error_codes() -> None:
    assert [row[0] for row in table("code")] == [code.value for code in ErrorCode]


def test_the_reason_table_lists_each_reason_with_its_status() -> None:
    rows = table("reason")
    assert [row[0] for row in rows] == [reason.value for reason in ValidationReason]
    for name, status, is_valid in rows:
        reason = ValidationReason(name)
        assert (status, is_valid) == (reason.status, str(reason.is_valid).lower())


def test_the_errors_page_explains_every_code() -> None:
    for code in [*ErrorCode, *ValidationReason]:
        assert f"| `{code.value}` |" in ERRORS_PAGE, code


def test_the_version_and_limits_are_the_ones_of_the_code() -> None:
    assert f'now `"{protocol.PROTOCOL_VERSION}"`' in PAGE
    assert f"at least {protocol.OFFLINE_CODE_MIN_LENGTH} characters" in PAGE
    assert "65 535 bytes (`MAX_PAYLOAD_BYTES`)" in PAGE and protocol.MAX_PAYLOAD_BYTES == 65_535
    assert f"below {protocol.MIN_RSA_BITS} bits (`MIN_RSA_BITS`)" in PAGE
    assert f"`{protocol.SIGNATURE_ALGORITHM}` (`SIGNATURE_ALGORITHM`)" in PAGE
    assert sorted(protocol.SIGNED_PATHS) == sorted(re.findall(r"`(/api/license/\w+)`", PAGE)[:3])
