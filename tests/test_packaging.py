"""The two distributions as PyPI sees them: the server's pin on the client."""

from __future__ import annotations

from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.version import Version

import exisone

ROOT = Path(__file__).resolve().parents[1]


def pyproject(package: str) -> dict[str, object]:
    with (ROOT / "packages" / package / "pyproject.toml").open("rb") as file:
        project: dict[str, object] = tomllib.load(file)["project"]
    return project


def test_the_server_pins_exactly_the_minor_series_of_the_client() -> None:
    """One minor series of exisone carries one protocol version (docs/protocol.md, Versions)."""
    dependencies = pyproject("server")["dependencies"]
    assert isinstance(dependencies, list)
    pins = [Requirement(text) for text in dependencies if Requirement(text).name == "exisone"]
    assert len(pins) == 1
    allowed = pins[0].specifier
    client = Version(exisone.__version__)
    assert client in allowed
    assert Version(f"{client.major}.{client.minor}.0") in allowed
    assert Version(f"{client.major}.{client.minor}.99") in allowed
    assert Version(f"{client.major}.{client.minor + 1}.0") not in allowed
