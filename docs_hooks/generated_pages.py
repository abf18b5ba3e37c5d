"""MkDocs hook: pages made at build time, so they cannot drift from the code.

- ``reference/http-api.md`` and ``reference/openapi.json``: the server's OpenAPI document (built
  from ``create_app`` without a database or a master key file) and a Markdown rendering of it;
- ``examples/*.md``: the README of each example under ``examples/``;
- ``changelog.md``: the repository's ``CHANGELOG.md``.

The output depends only on the code and the files, never on the time or the machine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CHANGELOG = ROOT / "CHANGELOG.md"
METHODS = ("get", "post", "put", "patch", "delete")


def openapi_document() -> dict[str, Any]:
    """The server's OpenAPI document, as ``GET /schema/openapi.json`` serves it."""
    from exisone_server.app import create_app
    from exisone_server.config import Settings
    from exisone_server.crypto.master_key import MasterKey

    settings = Settings(data_dir=ROOT / "nonexistent", database_url="sqlite+aiosqlite://")
    app = create_app(settings, master_key=MasterKey(bytes(32)))  # neither is used for the schema
    schema: dict[str, Any] = app.openapi_schema.to_schema()
    return schema


def type_text(schema: dict[str, Any]) -> str:
    """A short type: ``string``, ``integer | null``, ``[LicenseRead]``; schema names link."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "oneOf" in schema or "anyOf" in schema:
        return " \\| ".join(type_text(s) for s in schema.get("oneOf", schema.get("anyOf", [])))
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        return " \\| ".join(kind)
    if kind == "array":
        return f"[{type_text(schema.get('items', {}))}]"
    if "enum" in schema:
        return " \\| ".join(f"`{value}`" for value in schema["enum"])
    return str(kind)


def body_text(content: dict[str, Any] | None) -> str:
    if not content:
        return "—"
    media, body = next(iter(content.items()))
    schema = body.get("schema", {})
    return type_text(schema) if media == "application/json" else f"`{media}`"


def render_operation(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    lines = [f"### `{method.upper()} {path}`", ""]
    if operation.get("description"):
        lines += [operation["description"].strip(), ""]
    params = operation.get("parameters", [])
    if params:
        lines += ["| parameter | in | type | required |", "| --- | --- | --- | --- |"]
        lines += [
            f"| `{p['name']}` | {p['in']} | {type_text(p.get('schema', {}))} | "
            f"{'yes' if p.get('required') else 'no'} |"
            for p in params
        ]
        lines.append("")
    request = operation.get("requestBody")
    if request:
        lines += [f"Request body: {body_text(request.get('content'))}", ""]
    lines += ["| status | answer |", "| --- | --- |"]
    for status, response in operation.get("responses", {}).items():
        answer = body_text(response.get("content")) if status.startswith("2") else "error JSON"
        lines.append(f"| {status} | {answer} |")
    return [*lines, ""]


def render_schema(name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"### {name}", ""]
    properties = schema.get("properties", {})
    if not properties:
        return [*lines, f"Type: {type_text(schema)}", ""]
    required = set(schema.get("required", []))
    lines += ["| field | type | required |", "| --- | --- | --- |"]
    lines += [
        f"| `{field}` | {type_text(spec)} | {'yes' if field in required else 'no'} |"
        for field, spec in properties.items()
    ]
    return [*lines, ""]


def http_api_page(document: dict[str, Any]) -> str:
    info = document["info"]
    lines = [
        "# HTTP API reference",
        "",
        f"Generated from the OpenAPI {document['openapi']} document of **{info['title']}** "
        f"{info['version']} when this site was built ([openapi.json](openapi.json); a running "
        "server serves it at `/schema/openapi.json`). The prose guides are "
        "[the client endpoints](../server.md#client-endpoints), [the publisher API](../api.md) "
        "and [the error codes](../errors.md): every error answer is "
        '`{"error": code, "message": text}`.',
        "",
    ]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, operations in document["paths"].items():
        for method in METHODS:
            if method in operations:
                tag = (operations[method].get("tags") or ["other"])[0]
                by_tag.setdefault(tag, []).append((path, method, operations[method]))
    for tag in sorted(by_tag):
        lines += [f"## {tag.capitalize()} endpoints", ""]
        for path, method, operation in by_tag[tag]:
            lines += render_operation(path, method, operation)
    lines += ["## Schemas", ""]
    for name, schema in sorted(document.get("components", {}).get("schemas", {}).items()):
        lines += render_schema(name, schema)
    return "\n".join(lines)


def example_pages() -> dict[str, str]:
    """``examples/<name>.md`` → the README of ``examples/<name>/``; the overview from examples/."""
    pages: dict[str, str] = {}
    if (EXAMPLES / "README.md").is_file():
        pages["examples/index.md"] = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    for readme in sorted(EXAMPLES.glob("*/README.md")):
        pages[f"examples/{readme.parent.name}.md"] = readme.read_text(encoding="utf-8")
    return pages


def changelog_page() -> str:
    """``changelog.md``: the repository's changelog, as it is."""
    return CHANGELOG.read_text(encoding="utf-8")


def on_files(files: Files, config: MkDocsConfig) -> Files:
    document = openapi_document()
    generated = {
        "reference/openapi.json": json.dumps(document, indent=2, sort_keys=True) + "\n",
        "reference/http-api.md": http_api_page(document),
        "changelog.md": changelog_page(),
        **example_pages(),
    }
    for uri, content in generated.items():
        files.append(File.generated(config, uri, content=content))
    return files
