"""The site's generated pages: every endpoint and schema, every example (and in the nav)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generated_pages", ROOT / "docs_hooks" / "generated_pages.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


hook = load_hook()


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    result: dict[str, Any] = hook.openapi_document()
    return result


def nav_pages() -> list[str]:
    return re.findall(r":\s+(\S+\.md)$", (ROOT / "mkdocs.yml").read_text(), re.M)


def test_the_api_page_lists_every_operation_and_schema(document: dict[str, Any]) -> None:
    page = hook.http_api_page(document)

    for path, operations in document["paths"].items():
        for method in operations:
            if method in hook.METHODS:
                assert f"### `{method.upper()} {path}`" in page
    for name in document["components"]["schemas"]:
        assert f"\n### {name}\n" in page
    assert "### `POST /api/license/activate`" in page  # sanity: the client endpoints are there
    assert "[LicenseActivate](#licenseactivate)" in page


def test_the_api_page_is_deterministic(document: dict[str, Any]) -> None:
    assert hook.http_api_page(document) == hook.http_api_page(hook.openapi_document())


def test_every_example_has_a_page_in_the_nav() -> None:
    examples = sorted(path.parent.name for path in (ROOT / "examples").glob("*/README.md"))
    pages = hook.example_pages()

    assert examples == [
        "desktop_gate",
        "offline_cli",
        "publisher_automation",
        "storefront",
        "web_seats",
    ]
    assert set(pages) == {"examples/index.md"} | {f"examples/{name}.md" for name in examples}
    assert set(pages) <= set(nav_pages())


def test_the_changelog_page_is_the_repositorys_changelog() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")

    assert hook.changelog_page() == changelog
    assert {"benchmarks.md", "design.md", "changelog.md"} <= set(nav_pages())
    # Keep a Changelog: "Unreleased" first, then released versions with their dates.
    headings = re.findall(r"^## (.+)$", changelog, re.M)
    assert headings[0] == "Unreleased"
    assert headings[1:] and all(
        re.fullmatch(r"\d+\.\d+\.\d+ - \d{4}-\d{2}-\d{2}", heading) for heading in headings[1:]
    )
    sections = set(re.findall(r"^### (.+)$", changelog, re.M))
    assert sections <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
