"""docs/server.md's module map names every module of the server, and its rules table every rule."""

from __future__ import annotations

import re
from pathlib import Path

import exisone_server
from exisone_server.licenses import rules

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "server.md"
PACKAGE = Path(exisone_server.__file__).resolve().parent

#: A line of the map that names a module or a folder: indentation (two spaces a level), name.
#: Description lines continue further right, so a name is never indented more than this.
_ENTRY = re.compile(r"^( {0,12})([A-Za-z0-9_.]+(?:\.py|/))(?:\s|$)")


def _section(heading: str) -> str:
    text = PAGE.read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def module_map() -> list[str]:
    """The paths the map lists, relative to the package (folders end with ``/``)."""
    (block,) = re.findall(r"```text\n(.*?)```", _section("## For developers: the code"), re.S)
    paths: list[str] = []
    parents: list[str] = []
    for line in block.splitlines():
        match = _ENTRY.match(line)
        if match is None:
            continue
        depth, name = len(match.group(1)) // 2, match.group(2)
        assert len(match.group(1)) % 2 == 0, f"odd indentation: {line!r}"
        del parents[depth:]
        assert len(parents) == depth, f"no parent folder for {line!r}"
        paths.append("".join(parents[1:]) + name)
        if name.endswith("/"):
            parents.append(name)
    assert paths and paths[0] == "exisone_server/", "the map starts at exisone_server/"
    return paths[1:]


def package_modules() -> set[str]:
    """Every module and every folder of Python modules in the package (``__init__.py`` is its
    folder's line)."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if "__pycache__" in relative.parts:
            continue
        for depth in range(1, len(relative.parts)):
            found.add("/".join(relative.parts[:depth]) + "/")
        if relative.name != "__init__.py" or len(relative.parts) == 1:
            found.add(relative.as_posix())
    return found


def test_the_module_map_names_every_module_of_the_server() -> None:
    missing = package_modules() - set(module_map())

    assert not missing, f"docs/server.md's module map lacks {sorted(missing)}"


def test_the_module_map_names_only_what_exists() -> None:
    listed = module_map()

    assert len(listed) == len(set(listed)), "a path is listed twice"
    gone = [path for path in listed if not (PACKAGE / path).exists()]
    assert not gone, f"docs/server.md's module map lists what is gone: {gone}"
    assert "licenses/rules.py" in listed and "licenses/validate_seam.py" in listed


def test_where_the_rules_live_lists_every_rule_of_the_rules_module() -> None:
    table = _section("### Where the rules live")
    functions = [
        name for name in rules.__all__ if name[0].islower() and callable(getattr(rules, name))
    ]
    rows = {
        name
        for line in table.splitlines()
        if line.startswith("| `")
        for name in re.findall(r"`(\w+)`", line.split(" | ")[0])
    }

    assert functions, "the rules module exports its rules"
    assert set(functions) <= rows, f"rules without a row: {sorted(set(functions) - rows)}"
    assert rows <= set(functions), f"rows of no rule: {sorted(rows - set(functions))}"
