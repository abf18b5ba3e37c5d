"""Only the client imports the client's private modules: everything else uses public names
(``exisone``, ``exisone.protocol``, ``exisone.testing``).

Exempt: the client itself, and the tests of its internals (tests/client, tests/cli).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("packages/server", "benchmarks", "examples", "tests", "docs_hooks")
EXEMPT = ("tests/client", "tests/cli")


def private_imports(source: str, filename: str = "<source>") -> Iterator[tuple[int, str]]:
    """``(line, module)`` of every import of a private part of ``exisone`` in ``source``."""
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "exisone" and any(_is_private(part) for part in parts[1:]):
                yield node.lineno, name
                break


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def checked_files() -> list[Path]:
    files = [path for folder in CHECKED for path in (ROOT / folder).rglob("*.py")]
    return sorted(
        path
        for path in files
        if not any(path.is_relative_to(ROOT / exempt) for exempt in EXEMPT)
        and not any(part.startswith(".") or part == "build" for part in path.parts)
    )


def test_nothing_outside_the_client_imports_its_private_modules() -> None:
    files = checked_files()
    assert any(path.is_relative_to(ROOT / "packages/server") for path in files)
    found = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in files
        for line, name in private_imports(path.read_text(encoding="utf-8"), str(path))
    ]
    assert found == [], "use exisone.protocol (or exisone) instead:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("from exisone._offline import issue_offline_code", ["exisone._offline"]),
        ("import exisone._dates as dates", ["exisone._dates"]),
        ("from exisone import _answer_signature", ["exisone._answer_signature"]),
        ("def f():\n    from exisone._cli._app import cli", ["exisone._cli._app"]),
        ("from exisone.protocol import issue_offline_code", []),
        ("from exisone import ExisOneClient, __version__", []),
        ("import exisone_server._private", []),
        ("from . import _offline", []),
    ],
)
def test_the_check_finds_every_form_of_private_import(source: str, found: list[str]) -> None:
    assert [name for _, name in private_imports(source)] == found
