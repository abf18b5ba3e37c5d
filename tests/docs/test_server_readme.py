"""The example of packages/server/README.md (the PyPI page) runs as written: its shell block in
bash in an empty folder (``serve`` on a free port), then its Python block against that server
with the token and key the shell block printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ServerProcess, free_port, server_env

README = Path(__file__).resolve().parents[2] / "packages" / "server" / "README.md"
TEXT = README.read_text(encoding="utf-8")
SHELL = re.findall(r"```sh\n(.*?)```", TEXT, re.S)
PYTHON = re.findall(r"```python\n(.*?)```", TEXT, re.S)


def test_the_page_has_the_install_line_and_one_example() -> None:
    assert SHELL[0] == "pip install exisone-server\n"
    assert len(SHELL) == 2 and len(PYTHON) == 1
    assert SHELL[1].rstrip().endswith("exisone-server serve")


def test_the_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    script = "set -euo pipefail\n" + SHELL[1].replace(
        "exisone-server serve", f"exec exisone-server serve --port {port}"
    )
    commands = str(Path(sys.executable).parent)
    env = server_env(PATH=f"{commands}{os.pathsep}{os.environ['PATH']}", COLUMNS="200")
    log = tmp_path / "output.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["bash", "-c", script], cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    server = ServerProcess(f"http://127.0.0.1:{port}", process, log)
    try:
        server.wait_until_up()
        printed = server.output()
        token = re.search(r"^Access token, to copy: (\S+)$", printed, re.M)
        key = re.search(r"Single-device key\s*│\s*([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})", printed)
        assert token and key, printed
        code = (
            PYTHON[0]
            .replace("http://127.0.0.1:8000", server.url)
            .replace("exo_at_...", token.group(1))
            .replace("XXXX-XXXX-XXXX-XXXX", key.group(1))
        )
        exec(compile(code, f"{README} example", "exec"), {"__name__": "__readme__"})
    finally:
        server.stop()
    assert capsys.readouterr().out.splitlines() == ["True", "licensed"]
    assert (tmp_path / "exisone-data" / "exisone.db").is_file()
