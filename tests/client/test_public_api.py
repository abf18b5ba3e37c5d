"""The public surface: the public modules (exisone, exisone.protocol, exisone.testing), sorted
__all__, a cheap import, drop-in parity with exisone-client 0.10.0."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
import re
import subprocess
import sys
import types
from pathlib import Path
from typing import Any, Callable

import pytest

import exisone
from exisone import (
    AsyncExisOneClient,
    ExisOneClient,
    SeatUsage,
    ValidationStatus,
)

from .conftest import FakeServer

REPO = Path(__file__).resolve().parents[2]
OFFICIAL_PYTHON = REPO / ".venvs" / "official" / "bin" / "python"
PRIVATE_MODULES_WITH_PUBLIC_NAMES = [
    "_async_client",
    "_async_lease",
    "_client",
    "_exceptions",
    "_hwid",
    "_lease",
    "_models",
    "_options",
]


def test_all_is_sorted_and_lists_exactly_the_public_names() -> None:
    assert exisone.__all__ == sorted(exisone.__all__, key=str.casefold)
    expected = {"__version__"}
    for name in PRIVATE_MODULES_WITH_PUBLIC_NAMES:
        module = __import__(f"exisone.{name}", fromlist=["__all__"])
        expected.update(module.__all__)
    assert set(exisone.__all__) == expected
    for name in exisone.__all__:
        assert getattr(exisone, name) is not None
        assert name in dir(exisone)
    with pytest.raises(AttributeError):
        exisone.NoSuchThing  # noqa: B018


#: Every public name of exisone.protocol, and the private module that defines it.
PROTOCOL_NAMES = {
    "_answer_signature": [
        "NONCE_HEADER",
        "SIGNATURE_ALGORITHM",
        "SIGNATURE_HEADER",
        "SIGNED_PATHS",
        "AnswerSignature",
        "canonical_message",
        "is_valid_nonce",
        "key_id",
        "new_nonce",
        "parse_signature_header",
        "sign_answer",
        "verify_answer",
    ],
    "_codes": ["ErrorCode", "ValidationReason"],
    "_dates": ["PERPETUAL", "format_datetime", "parse_datetime"],
    "_exceptions": [
        "AnswerSignatureError",
        "ConfigurationError",
        "ExisOneError",
        "InvalidLeaseToken",
        "InvalidOfflineCode",
    ],
    "_lease_token": [
        "LEASE_TOKEN_PREFIX",
        "LEASE_TOKEN_VERSION",
        "VerifiedLease",
        "issue_lease_token",
        "verify_lease_token",
    ],
    "_models": ["ValidationStatus"],
    "_offline": [
        "MAX_PAYLOAD_BYTES",
        "MIN_RSA_BITS",
        "OFFLINE_CODE_MIN_LENGTH",
        "PublicKeys",
        "TrustedKeys",
        "VerifiedCode",
        "encode_payload",
        "is_offline_code",
        "issue_offline_code",
        "load_private_key",
        "load_public_keys",
        "load_trusted_keys",
        "verify_offline_code",
    ],
    "_sealed": [
        "SEALED_KEY_BYTES",
        "OpenedRequest",
        "SealedPayloadError",
        "envelope_key_id",
        "open_answer",
        "open_request",
        "seal_answer",
        "seal_request",
    ],
}


def test_the_public_modules_are_exisone_protocol_and_testing() -> None:
    public = {m.name for m in pkgutil.iter_modules(exisone.__path__) if not m.name.startswith("_")}
    assert public == {"protocol", "testing"}


def test_protocol_lists_exactly_its_names_each_defined_once() -> None:
    from exisone import protocol

    expected = {"PROTOCOL_VERSION"} | {n for names in PROTOCOL_NAMES.values() for n in names}
    assert set(protocol.__all__) == expected
    assert len(protocol.__all__) == len(expected)
    for module, names in PROTOCOL_NAMES.items():
        home = importlib.import_module(f"exisone.{module}")
        for name in names:
            assert getattr(protocol, name) is getattr(home, name), name
    for name in set(protocol.__all__) & set(exisone.__all__):
        assert getattr(protocol, name) is getattr(exisone, name), name


def test_protocol_version_is_major_dot_minor() -> None:
    from exisone.protocol import PROTOCOL_VERSION

    assert re.fullmatch(r"[1-9][0-9]*\.[0-9]+", PROTOCOL_VERSION)


def test_import_is_cheap_and_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, exisone; "
        "heavy = [m for m in ('httpx', 'cryptography', 'exisone_server', 'exisone._client', "
        "'exisone.protocol') if m in sys.modules]; print(heavy)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "[]"


def test_exceptions_and_models_load_without_httpx() -> None:
    code = (
        "import sys\n"
        "from exisone import ValidationStatus, APIError, SeatUsage, ExisOneClientOptions\n"
        "print([m for m in ('httpx', 'cryptography') if m in sys.modules])"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "[]"


def test_sync_and_async_clients_have_the_same_methods_and_parameters() -> None:
    def public(cls: type) -> dict[str, Any]:
        return {
            name: list(inspect.signature(getattr(cls, name)).parameters)
            for name in vars(cls)
            if not name.startswith("_") and callable(getattr(cls, name))
        }

    sync, asynchronous = public(ExisOneClient), public(AsyncExisOneClient)
    assert sync.pop("close") == asynchronous.pop("aclose")
    assert sync == asynchronous
    coroutines = {
        name
        for name, member in vars(AsyncExisOneClient).items()
        if inspect.iscoroutinefunction(member) and not name.startswith("_")
    }
    assert coroutines == {
        "activate",
        "validate",
        "deactivate",
        "generate_activation_key",
        "generate_activation_key_details",
        "get_licensed_features_csv",
        "get_licensed_features",
        "send_support_ticket",
        "get_seat_usage",
        "consume",
        "get_usage",
        "validate_encrypted",
        "validate_smart",
        "deactivate_smart",
        "flush_outbox",
        "borrow",
        "return_borrowed",
        "aclose",
        "__aenter__",
        "__aexit__",
    } - {"__aenter__", "__aexit__"}


def test_status_enum_compares_as_plain_strings() -> None:
    assert ValidationStatus.LICENSED == "licensed"
    assert str(ValidationStatus.VERSION_OUTDATED) == "version_outdated"
    assert f"{ValidationStatus.TRIAL}" == "trial"
    assert json.dumps({"s": ValidationStatus.EXPIRED}) == '{"s": "expired"}'
    assert {s.value for s in ValidationStatus} == {
        "licensed",
        "trial",
        "expired",
        "invalid",
        "version_outdated",
        "offline",
        "clock_tampered",
        "check_in_required",
    }
    assert ValidationStatus.coerce("new_status") == "new_status"


@pytest.mark.parametrize(
    ("usage", "remaining"),
    [
        (SeatUsage(3, 10, True, False), 7),
        (SeatUsage(12, 10, False, False), 0),
        (SeatUsage(3, None, True, False), None),
        (SeatUsage(3, 10, True, True), None),
    ],
)
def test_seat_usage_remaining(usage: SeatUsage, remaining: Any) -> None:
    assert usage.remaining == remaining


async def test_generate_hardware_id_override_is_trimmed(make_client: Callable[..., Any]) -> None:
    client = make_client(FakeServer(), hardware_id_override="  user-42-uuid \n")
    assert client.generate_hardware_id() == "user-42-uuid"
    assert client.get_version() == exisone.__version__ == ExisOneClient.get_version()


async def test_generate_hardware_id_routes_the_mode_to_the_fingerprint_module(
    make_client: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def fingerprint(mode: str = "stable") -> str:
        calls.append(mode)
        return f"ID-{mode}"

    fake = types.ModuleType("exisone._hardware")
    fake.generate_hardware_id = fingerprint  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "exisone._hardware", fake)
    client = make_client(FakeServer(), hardware_id_override="   ")
    assert client.generate_hardware_id() == "ID-stable"
    assert client.generate_hardware_id("legacy") == "ID-legacy"
    assert exisone.generate_hardware_id() == "ID-stable"
    assert calls == ["stable", "legacy", "stable"]


OFFICIAL_FACTS = """
import dataclasses, inspect, json, exisone as e

def default(f):
    if f.default is not dataclasses.MISSING:
        return repr(f.default)
    if f.default_factory is not dataclasses.MISSING:
        return "factory:" + repr(f.default_factory())
    return None

out = {"exports": sorted(e.__all__), "classes": {}, "methods": {}}
for name in ["ExisOneClientOptions", "ActivationResult", "ValidationResult",
             "OfflineValidationResult", "SmartValidationResult", "DeactivationResult", "SeatUsage"]:
    out["classes"][name] = [[f.name, default(f)] for f in dataclasses.fields(getattr(e, name))]
for name in vars(e.ExisOneClient):
    member = getattr(e.ExisOneClient, name)
    if not name.startswith("_") and callable(member):
        out["methods"][name] = list(inspect.signature(member).parameters)
print(json.dumps(out))
"""


def _official(script: str) -> Any:
    if not OFFICIAL_PYTHON.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"the official SDK venv is missing: {OFFICIAL_PYTHON} (run scripts/bootstrap)"
            )
        pytest.skip("the official exisone-client 0.10.0 venv (.venvs/official) is not installed")
    env = {**os.environ, "PYTHONPATH": ""}
    output = subprocess.run(
        [str(OFFICIAL_PYTHON), "-I", "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(output.stdout)


def test_drop_in_parity_with_the_official_sdk() -> None:
    """Every official result field (with its default), option and method parameter exists here."""
    facts = _official(OFFICIAL_FACTS)
    import dataclasses

    assert set(facts["exports"]) <= set(exisone.__all__)
    for name, fields in facts["classes"].items():
        ours = {
            f.name: (
                repr(f.default)
                if f.default is not dataclasses.MISSING
                else "factory:" + repr(f.default_factory())
                if f.default_factory is not dataclasses.MISSING
                else None
            )
            for f in dataclasses.fields(getattr(exisone, name))
        }
        ours_order = list(ours)[: len(fields)]
        assert ours_order == [field for field, _ in fields], name  # same positional order
        for field, default in fields:
            assert ours[field] == default, f"{name}.{field}"
    for method, parameters in facts["methods"].items():
        ours = list(inspect.signature(getattr(ExisOneClient, method)).parameters)
        assert ours[: len(parameters)] == parameters, method


def test_generate_hardware_id_without_override_is_the_machine_fingerprint() -> None:
    from exisone._hardware import generate_hardware_id as fingerprint

    with ExisOneClient(base_url="https://h.example") as client:
        hwid = client.generate_hardware_id()
    assert hwid == fingerprint() == exisone.generate_hardware_id()
    assert len(hwid) == 64 and hwid == hwid.upper()
    assert exisone.generate_hardware_id("legacy") == fingerprint("legacy")
