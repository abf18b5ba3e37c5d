"""The command runner the legacy mode and the macOS ioreg fallback use."""

import sys

from exisone._hardware._process import run_stdout


def test_stdout_of_a_successful_command() -> None:
    assert run_stdout([sys.executable, "-c", "print('hello')"]) == "hello\n"


def test_failed_command_gives_none() -> None:
    assert run_stdout([sys.executable, "-c", "print('partial'); raise SystemExit(3)"]) is None


def test_missing_command_gives_none() -> None:
    assert run_stdout(["/nonexistent/exisone-no-such-tool", "-a"]) is None
