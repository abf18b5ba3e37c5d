"""The two distributions as PyPI sees them: the server's pin on the client, the READMEs as
their long descriptions."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
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


@pytest.mark.parametrize(
    ("package", "distribution"), [("client", "exisone"), ("server", "exisone-server")]
)
def test_the_readme_is_the_long_description(package: str, distribution: str) -> None:
    """What PyPI shows: the README, as Markdown (the editable install's metadata; scripts/bootstrap
    reinstalls when a README changes)."""
    assert pyproject(package)["readme"] == "README.md"
    readme = (ROOT / "packages" / package / "README.md").read_text(encoding="utf-8")
    installed = metadata.metadata(distribution)
    assert installed["Description-Content-Type"] == "text/markdown"
    # .json, not .get_payload(): once keyring has imported the importlib_metadata backport, the
    # body is served as the Description field instead.
    assert installed.json["description"] == readme, "stale metadata: run scripts/bootstrap"
    assert readme.startswith(f"# {distribution}\n")
    for part in ("## Install", f"pip install {distribution}", "## Example", "## Documentation"):
        assert part in readme


def test_contributing_names_where_each_version_lives() -> None:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    homes = re.findall(r"^\| `([\w-]+)` \| `([\w/.]+\.py)` \|", text, re.M)
    assert dict(homes) == {
        "exisone": "packages/client/src/exisone/__version__.py",
        "exisone-server": "packages/server/src/exisone_server/__init__.py",
    }
    for distribution, path in homes:
        assert f'__version__ = "{metadata.version(distribution)}"' in (ROOT / path).read_text()
