"""examples/desktop_gate: the license gate's logic against a real server, and its Tk window
driven under Xvfb (skipped with a reason where Xvfb is missing, except under CI=true).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.examples.live_server import DemoServer
from tests.support import free_port

APP = Path(__file__).resolve().parents[2] / "examples" / "desktop_gate" / "license_gate.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("desktop_gate_app", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


pytest.importorskip("tkinter", reason="this Python has no Tkinter (apt install python3-tk)")
desktop = load_example()


def new_key(server: DemoServer) -> str:
    with server.publisher() as http:
        answer = http.post(
            "/api/activationkey/generate",
            json={
                "productName": server.product,
                "email": "desk@example.com",
                "planId": server.demo["planId"],
            },
        )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["activationKey"])


def active_devices(server: DemoServer, key: str) -> set[str]:
    with server.publisher() as http:
        detail = http.get(f"/api/license/{key}").json()
    return {item["hardwareId"] for item in detail["activations"] if item["isActive"]}


@pytest.fixture
def settings(server: DemoServer, tmp_path: Path) -> Any:
    return desktop.GateSettings(
        server_url=server.base_url,
        token=server.token,
        product=server.product,
        public_key_pem=server.demo["publicKeyPem"],
        data_dir=tmp_path / "app-data",
        hardware_id=f"DESK-{uuid.uuid4().hex.upper()}",
    )


@pytest.fixture
def gate(settings: Any) -> Iterator[Any]:
    opened = desktop.LicenseGate(settings)
    yield opened
    opened.close()


def test_first_start_activate_restart_and_move(
    gate: Any, settings: Any, server: DemoServer
) -> None:
    assert gate.check_on_start().licensed is False
    key = new_key(server)

    state = gate.activate(key, "desk@example.com")

    assert state.licensed, state.message
    assert (state.status, state.features, state.expires) == ("licensed", ["Export", "Pro"], "never")
    assert active_devices(server, key) == {settings.hardware_id}

    restarted = desktop.LicenseGate(settings)  # the next start validates what was remembered
    try:
        again = restarted.check_on_start()
        assert again.licensed and again.features == ["Export", "Pro"]
        assert restarted.deactivate().startswith("Deactivated. You can now activate")
        assert active_devices(server, key) == set()
        assert restarted.check_on_start().licensed is False
    finally:
        restarted.close()


def test_refusals_are_shown_not_raised(gate: Any, settings: Any, server: DemoServer) -> None:
    key = new_key(server)
    with server.publisher() as http:
        http.post(
            "/api/license/offline-code", json={"activationKey": key, "hardwareId": "OTHER-PC"}
        )

    in_use = gate.activate(key, "desk@example.com")
    assert not in_use.licensed
    assert in_use.message.startswith("Activation refused:") and "another device" in in_use.message
    assert not gate.saved.exists()
    assert (
        gate.activate("", "desk@example.com").message == "Enter a license key or an offline code."
    )

    unreachable = desktop.LicenseGate(
        desktop.GateSettings(
            server_url=f"http://127.0.0.1:{free_port()}",
            token=server.token,
            product=server.product,
            public_key_pem=None,
            data_dir=settings.data_dir,
            hardware_id=settings.hardware_id,
        )
    )
    try:
        state = unreachable.activate(new_key(server), "desk@example.com")
    finally:
        unreachable.close()
    assert state.message.startswith("The license server cannot be reached.")


def test_an_offline_code_activates_without_the_server(
    gate: Any, settings: Any, server: DemoServer
) -> None:
    key = new_key(server)
    with server.publisher() as http:
        code = http.post(
            "/api/license/offline-code",
            json={"activationKey": key, "hardwareId": settings.hardware_id},
        ).json()["offlineCode"]
    offline_settings = desktop.GateSettings(  # the same installation, no server reachable
        server_url=f"http://127.0.0.1:{free_port()}",
        token=server.token,
        product=server.product,
        public_key_pem=settings.public_key_pem,
        data_dir=settings.data_dir,
        hardware_id=settings.hardware_id,
    )
    offline = desktop.LicenseGate(offline_settings)
    try:
        state = offline.activate(code, "")
        assert state.licensed and state.features == ["Export", "Pro"], state.message
        assert offline.check_on_start().licensed
    finally:
        offline.close()


@pytest.fixture
def display(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private X display (Xvfb) for the Tk window."""
    if shutil.which("Xvfb") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Xvfb is required under CI (apt-get install xvfb; .ci/run does)")
        pytest.skip("Xvfb is not installed (apt-get install xvfb)")
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end) as pipe:
            number = pipe.readline().strip()
        assert number, "Xvfb did not report a display"
        monkeypatch.setenv("DISPLAY", f":{number}")
        yield f":{number}"
    finally:
        process.terminate()
        process.wait(10)


def test_the_window_under_xvfb(display: str, gate: Any, settings: Any, server: DemoServer) -> None:
    import tkinter as tk

    key = new_key(server)
    root = tk.Tk()
    try:
        window = desktop.GateWindow(root, gate)
        root.update()
        assert window.hwid["text"] == settings.hardware_id
        window.copy_button.invoke()
        assert root.clipboard_get() == settings.hardware_id

        window.key_entry.insert(0, key)
        window.email_entry.insert(0, "desk@example.com")
        window.activate_button.invoke()
        root.update()
        assert window.features_label["text"] == "Features: Export, Pro"
        assert window.expiry_label["text"] == "Expires: never"

        window.support_button.invoke()
        form = window.support
        form.subject.insert(0, "Cannot export")
        form.body.insert("1.0", "The export button is grey.")
        form.send_button.invoke()
        root.update()
        assert form.result.get() == "Thank you, your message was sent."
        database = Path(server.env["EXISONE_DATA_DIR"]) / "exisone.db"
        with sqlite3.connect(database) as db:
            tickets = db.execute(
                "SELECT email, subject FROM support_tickets WHERE subject = 'Cannot export'"
            ).fetchall()
        assert tickets == [("desk@example.com", "Cannot export")]

        window.move_button.invoke()
        root.update()
        assert window.message.get().startswith("Deactivated.")
        assert window.activate_button.winfo_exists()
        assert active_devices(server, key) == set()
    finally:
        root.destroy()
