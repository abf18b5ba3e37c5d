"""Every Python block of docs/quickstart.md runs, in order, against a real demo server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.examples.live_server import DemoServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "quickstart.md"
TEXT = DOC.read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, re.S)
# The demo values printed in the page, replaced by the values of the test's own demo server.
PLACEHOLDERS = {
    "exo_at_wyi95t5hmqixb73t_u4SIznJP3xDW9_1_-VthS4vyqryW-LggQGeZvhvcqSI": "accessToken",
    "FHE9-8J2G-5AR4-S511": "singleDeviceKey",
    "346Q-P9DY-KBYN-CD3N": "corporateKey",
    "http://127.0.0.1:8000": "serverUrl",
}


def test_the_page_shows_the_values_the_test_replaces() -> None:
    code = "".join(BLOCKS)
    assert len(BLOCKS) >= 6
    for placeholder in PLACEHOLDERS:
        assert placeholder in code, placeholder


def test_every_block_runs_in_order(server: DemoServer, capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, object] = {"__name__": "__quickstart__"}
    for index, block in enumerate(BLOCKS, 1):
        for placeholder, field in PLACEHOLDERS.items():
            block = block.replace(placeholder, str(server.demo[field]))
        exec(compile(block, f"{DOC.name} block {index}", "exec"), namespace)
    printed = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"[0-9A-F]{64}", printed[0])  # the hardware ID
    assert printed[1:] == [
        "True None",
        "licensed True ['Export', 'Pro']",
        "version_outdated 1.0.0",
        "1 5 4",
        "invalid",
    ]


def test_the_printed_results_match_the_comments() -> None:
    """The ``# ...`` after each print in the page is what the test above saw printed."""
    comments = re.findall(r"print\(.*\)  # (.*)", "".join(BLOCKS))
    assert comments == [
        "True None",
        "licensed True ['Export', 'Pro']",
        "version_outdated 1.0.0",
        "1 5 4",
        "invalid",
    ]
