"""A desktop application's license gate (Tkinter): activate once, validate on every start.

First start: the window shows this computer's hardware ID (with a Copy button, for offline
activation) and asks for a license key or an offline activation code. After activation, every
start validates the remembered license with ``validate_smart`` and shows the licensed features and
the expiry, with "Move to another computer" (deactivation) and "Contact support" (a ticket).

``LicenseGate`` holds the logic and never touches Tk; ``GateWindow`` is the view.

    pip install exisone     # Tkinter comes with Python (Debian/Ubuntu: apt install python3-tk)
    GATE_SERVER_URL=https://licensing.example.com GATE_TOKEN=exo_at_... GATE_PRODUCT=MyProduct \\
    GATE_PUBLIC_KEY_FILE=tenant-public-key.pem python license_gate.py
"""

from __future__ import annotations

import json
import os
import tkinter as tk
from dataclasses import dataclass, field
from pathlib import Path
from tkinter import ttk

from exisone import ExisOneClient, ExisOneError, SmartValidationResult

APP_VERSION = "1.2.0"


@dataclass(frozen=True)
class GateSettings:
    server_url: str
    token: str
    product: str
    public_key_pem: str | None  # needed for offline codes (and signed answers)
    data_dir: Path  # the remembered activation and the SDK's state
    hardware_id: str | None = None  # an override (containers, tests)

    @classmethod
    def from_env(cls) -> GateSettings:
        key_file = os.environ.get("GATE_PUBLIC_KEY_FILE")
        default_dir = Path.home() / ".my-product"
        return cls(
            server_url=os.environ.get("GATE_SERVER_URL", "http://127.0.0.1:8000"),
            token=os.environ.get("GATE_TOKEN", ""),
            product=os.environ.get("GATE_PRODUCT", "DemoApp"),
            public_key_pem=Path(key_file).read_text(encoding="utf-8") if key_file else None,
            data_dir=Path(os.environ.get("GATE_DATA_DIR") or default_dir),
            hardware_id=os.environ.get("GATE_HARDWARE_ID") or None,
        )


@dataclass
class LicenseState:
    """What the window shows."""

    licensed: bool
    status: str = "not_activated"
    features: list[str] = field(default_factory=list)
    expires: str = ""
    message: str = ""
    email: str = ""


class LicenseGate:
    """Activation, validation, deactivation and support tickets for one installation."""

    def __init__(self, settings: GateSettings) -> None:
        self.settings = settings
        self.saved = settings.data_dir / "activation.json"
        self.client = ExisOneClient(
            base_url=settings.server_url,
            access_token=settings.token,
            offline_public_key=settings.public_key_pem,
            hardware_id_override=settings.hardware_id,
            state_dir=settings.data_dir / "license-state",
            max_retries=1,
        )

    def close(self) -> None:
        self.client.close()

    def hardware_id(self) -> str:
        return self.client.generate_hardware_id()

    def remembered(self) -> dict[str, str] | None:
        try:
            data: dict[str, str] = json.loads(self.saved.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data

    def check_on_start(self) -> LicenseState:
        """Validate the remembered license (key or offline code); not activated if none."""
        saved = self.remembered()
        if saved is None:
            return LicenseState(False, message="Enter your license key or offline code.")
        try:
            result = self.client.validate_smart(
                saved["license"], self.hardware_id(), self.settings.product, APP_VERSION
            )
        except ExisOneError as error:  # the server refused the request (token, ...)
            return LicenseState(False, "error", message=f"License check failed: {error}")
        return self._state(result, saved.get("email", ""))

    def activate(self, key_or_code: str, email: str) -> LicenseState:
        """Activate a key online, or accept an offline code; remember it when it is valid."""
        text = key_or_code.strip()
        if not text:
            return LicenseState(False, message="Enter a license key or an offline code.")
        if len(text.replace("-", "").replace(" ", "")) < 50:  # a key: bind it to this computer
            if "@" not in email:
                return LicenseState(False, message="Enter your e-mail address.")
            answer = self.client.activate(
                text, email, self.hardware_id(), self.settings.product, APP_VERSION
            )
            if not answer.success:
                return LicenseState(
                    False, "refused", message=self._refusal(answer.error_code, answer.error_message)
                )
        result = self.client.validate_smart(
            text, self.hardware_id(), self.settings.product, APP_VERSION
        )
        state = self._state(result, email)
        if state.licensed:
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
            self.saved.write_text(json.dumps({"license": text, "email": email}), encoding="utf-8")
        return state

    def deactivate(self) -> str:
        """Free this computer's seat ("move to another computer") and forget the license."""
        saved = self.remembered()
        if saved is None:
            return "Not activated."
        result = self.client.deactivate_smart(
            saved["license"], self.hardware_id(), self.settings.product
        )
        if not result.success:
            return f"Deactivation refused: {result.error_message}"
        self.saved.unlink(missing_ok=True)
        if result.server_notified:
            return "Deactivated. You can now activate the license on another computer."
        return "Deactivated here; the license server will be told when it can be reached."

    def send_ticket(self, email: str, subject: str, message: str) -> str:
        if "@" not in email or not subject.strip() or not message.strip():
            return "Please fill in your e-mail, a subject and a message."
        try:
            self.client.send_support_ticket(self.settings.product, email, subject, message)
        except ExisOneError as error:
            return f"The ticket could not be sent: {error}"
        return "Thank you, your message was sent."

    @staticmethod
    def _refusal(code: str | None, message: str | None) -> str:
        if code == "network_error":
            return (
                "The license server cannot be reached. Check the connection or use an offline code."
            )
        return f"Activation refused: {message or code}"

    @staticmethod
    def _state(result: SmartValidationResult, email: str) -> LicenseState:
        expires = result.expiration_date.date().isoformat() if result.expiration_date else ""
        if result.expiration_date and result.expiration_date.year >= 2049:
            expires = "never"
        if result.is_valid:
            note = " (offline)" if result.was_offline else ""
            return LicenseState(
                True, str(result.status), result.features, expires, f"Licensed{note}", email
            )
        if result.status == "offline":
            return LicenseState(False, "offline", message="The license server cannot be reached.")
        return LicenseState(
            False,
            str(result.status),
            message=f"License not valid: {result.error_message or result.status}",
        )


class GateWindow:
    """The Tk view: an activation page and a licensed page."""

    def __init__(self, root: tk.Tk, gate: LicenseGate) -> None:
        self.root, self.gate = root, gate
        root.title("My Product - License")
        self.page = ttk.Frame(root, padding=16)
        self.page.grid(sticky="nsew")
        self.message = tk.StringVar()
        self.show(gate.check_on_start())

    def clear(self) -> None:
        for child in self.page.winfo_children():
            child.destroy()

    def show(self, state: LicenseState) -> None:
        self.state = state
        self.message.set(state.message)
        if state.licensed:
            self.show_licensed(state)
        else:
            self.show_activation()

    def show_activation(self) -> None:
        self.clear()
        ttk.Label(self.page, text="This computer's hardware ID:").grid(row=0, column=0, sticky="w")
        self.hwid = ttk.Label(self.page, text=self.gate.hardware_id(), font="TkFixedFont")
        self.hwid.grid(row=1, column=0, sticky="w")
        self.copy_button = ttk.Button(self.page, text="Copy", command=self.copy_hardware_id)
        self.copy_button.grid(row=1, column=1)
        ttk.Label(self.page, text="License key or offline code:").grid(row=2, column=0, sticky="w")
        self.key_entry = ttk.Entry(self.page, width=60)
        self.key_entry.grid(row=3, column=0, columnspan=2, sticky="we")
        ttk.Label(self.page, text="E-mail:").grid(row=4, column=0, sticky="w")
        self.email_entry = ttk.Entry(self.page, width=60)
        self.email_entry.grid(row=5, column=0, columnspan=2, sticky="we")
        self.activate_button = ttk.Button(self.page, text="Activate", command=self.on_activate)
        self.activate_button.grid(row=6, column=1, sticky="e")
        ttk.Label(self.page, textvariable=self.message, foreground="#a00").grid(
            row=7, column=0, columnspan=2, sticky="w"
        )

    def show_licensed(self, state: LicenseState) -> None:
        self.clear()
        ttk.Label(self.page, text=f"{state.message}: {self.gate.settings.product}").grid(
            row=0, column=0, sticky="w"
        )
        self.features_label = ttk.Label(
            self.page, text="Features: " + (", ".join(state.features) or "-")
        )
        self.features_label.grid(row=1, column=0, sticky="w")
        self.expiry_label = ttk.Label(self.page, text=f"Expires: {state.expires or '-'}")
        self.expiry_label.grid(row=2, column=0, sticky="w")
        self.move_button = ttk.Button(
            self.page, text="Move to another computer", command=self.on_deactivate
        )
        self.move_button.grid(row=3, column=0, sticky="w")
        self.support_button = ttk.Button(
            self.page, text="Contact support", command=self.open_support
        )
        self.support_button.grid(row=3, column=1, sticky="e")

    def copy_hardware_id(self) -> None:
        self.root.clipboard_clear()
        self.root.clipboard_append(self.gate.hardware_id())
        self.message.set("Hardware ID copied.")

    def on_activate(self) -> None:
        self.show(self.gate.activate(self.key_entry.get(), self.email_entry.get()))

    def on_deactivate(self) -> None:
        note = self.gate.deactivate()
        self.show(LicenseState(False, message=note))

    def open_support(self) -> None:
        self.support = SupportForm(self.root, self.gate, self.state.email)


class SupportForm:
    """A small window that sends a support ticket."""

    def __init__(self, root: tk.Tk, gate: LicenseGate, email: str) -> None:
        self.gate = gate
        self.window = tk.Toplevel(root)
        self.window.title("Contact support")
        self.email = ttk.Entry(self.window, width=50)
        self.email.insert(0, email)
        self.subject = ttk.Entry(self.window, width=50)
        self.body = tk.Text(self.window, width=50, height=8)
        self.result = tk.StringVar()
        for row, (label, widget) in enumerate(
            [("E-mail", self.email), ("Subject", self.subject), ("Message", self.body)]
        ):
            ttk.Label(self.window, text=label).grid(row=row, column=0, sticky="nw")
            widget.grid(row=row, column=1, sticky="we")
        self.send_button = ttk.Button(self.window, text="Send", command=self.on_send)
        self.send_button.grid(row=3, column=1, sticky="e")
        ttk.Label(self.window, textvariable=self.result).grid(row=4, column=0, columnspan=2)

    def on_send(self) -> None:
        self.result.set(
            self.gate.send_ticket(self.email.get(), self.subject.get(), self.body.get("1.0", "end"))
        )


def main() -> None:
    gate = LicenseGate(GateSettings.from_env())
    root = tk.Tk()
    GateWindow(root, gate)
    try:
        root.mainloop()
    finally:
        gate.close()


if __name__ == "__main__":
    main()
