"""Timing worker for one client SDK, run as a script: ``python -I sdk_worker.py ours|official``.

It imports only the standard library, ``cryptography`` and the SDK under test, so the same file
runs in our venv and in the official SDK's venv. Protocol: see ``benchmarks/worker.py``.
Operations: ``hello``, ``setup_offline``, ``setup_hwid``, ``setup_validate``, ``calibrate``,
``time``. Every timer is a zero-argument callable; ``time`` returns seconds per call.
"""

from __future__ import annotations

import gc
import json
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

IMPL = sys.argv[1] if len(sys.argv) > 1 else ""
TIMERS: dict[str, Callable[[], object]] = {}


def _sdk() -> Any:
    import exisone

    return exisone


def _client_class() -> Any:
    sdk = _sdk()
    try:
        return sdk.ExisOneClient, sdk.ExisOneClientOptions
    except AttributeError as exc:
        raise RuntimeError(
            f"{IMPL} SDK has no ExisOneClient/ExisOneClientOptions yet: {exc}"
        ) from exc


def _make_client(*, base_url: str, token: str = "", public_pem: str = "", ca_path: str = "") -> Any:
    """Build a client the way each SDK is meant to be configured."""
    client_class, options_class = _client_class()
    options: dict[str, Any] = {"base_url": base_url, "access_token": token}
    if public_pem:
        options["offline_public_key"] = public_pem
    if IMPL == "official":
        import importlib

        session = importlib.import_module("requests").Session()
        if ca_path:
            session.verify = ca_path
        return client_class(options_class(**options), session)
    if ca_path:
        return client_class(options_class(**options), verify=ca_path)
    return client_class(options_class(**options))


def _summary(result: Any) -> dict[str, Any]:
    """The fields both SDKs' results share, to check both sides got the same answer."""
    status = getattr(result, "status", None)
    return {
        "success": getattr(result, "success", None),
        "is_valid": getattr(result, "is_valid", None),
        "status": None if status is None else str(getattr(status, "value", status)),
        "error": getattr(result, "error_message", None),
    }


def op_hello() -> dict[str, Any]:
    import platform

    import cryptography

    sdk = _sdk()
    return {
        "python": platform.python_version(),
        "sdk_file": getattr(sdk, "__file__", None),
        "sdk_version": getattr(sdk, "__version__", None),
        "cryptography": cryptography.__version__,
    }


def op_setup_offline(
    public_pem: str, code: str, hardware_id: str, payload_hex: str, signature_hex: str
) -> dict[str, Any]:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    client = _make_client(base_url="https://127.0.0.1", public_pem=public_pem)
    first = client.validate_offline(code, hardware_id)
    if getattr(first, "is_valid", None) is not True:
        raise RuntimeError(f"{IMPL} validate_offline did not accept the code: {_summary(first)}")
    TIMERS["offline_sdk"] = lambda: client.validate_offline(code, hardware_id)
    remembered = getattr(getattr(client, "_core", None), "verified_codes", None)
    if remembered is not None:  # ours: forget the code first, so every call verifies it

        def first_check() -> object:
            remembered.clear()
            return client.validate_offline(code, hardware_id)

        TIMERS["offline_sdk_first"] = first_check

    key: Any = serialization.load_pem_public_key(public_pem.encode("ascii"))
    payload, signature = bytes.fromhex(payload_hex), bytes.fromhex(signature_hex)
    key.verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
    TIMERS["offline_raw"] = lambda: key.verify(
        signature, payload, padding.PKCS1v15(), hashes.SHA256()
    )
    return {"result": _summary(first)}


def op_setup_hwid() -> dict[str, Any]:
    sdk = _sdk()
    try:
        generate = sdk.generate_hardware_id
    except AttributeError as exc:
        raise RuntimeError(f"{IMPL} SDK has no generate_hardware_id yet: {exc}") from exc
    first, second = generate(), generate()
    if first != second:
        raise RuntimeError(f"{IMPL} generate_hardware_id is not stable: {first!r} != {second!r}")
    TIMERS["hwid"] = generate
    return {"hardware_id": first}


def op_setup_validate(
    base_url: str,
    token: str,
    ca_path: str,
    activation_key: str,
    hardware_id: str,
    product_name: str,
    email: str,
) -> dict[str, Any]:
    client = _make_client(base_url=base_url, token=token, ca_path=ca_path)
    activated = client.activate(activation_key, email, hardware_id, product_name)
    first = client.validate(activation_key, hardware_id, product_name)
    TIMERS["validate"] = lambda: client.validate(activation_key, hardware_id, product_name)
    return {"activate": _summary(activated), "result": _summary(first)}


def _batch(timer: Callable[[], object], number: int) -> float:
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(number):
            timer()
        return time.perf_counter() - start
    finally:
        if gc_was_enabled:
            gc.enable()


def op_calibrate(timer: str, min_seconds: float) -> dict[str, Any]:
    """The smallest number in 1, 2, 5, 10, 20, 50, ... whose batch takes ``min_seconds``."""
    number = 1
    while True:
        for factor in (1, 2, 5):
            if _batch(TIMERS[timer], number * factor) >= min_seconds:
                return {"number": number * factor}
        number *= 10


def op_time(timer: str, number: int) -> dict[str, Any]:
    return {"seconds": _batch(TIMERS[timer], number) / number}


OPS: dict[str, Callable[..., dict[str, Any]]] = {
    "hello": op_hello,
    "setup_offline": op_setup_offline,
    "setup_hwid": op_setup_hwid,
    "setup_validate": op_setup_validate,
    "calibrate": op_calibrate,
    "time": op_time,
}


def main() -> int:
    protocol = sys.stdout
    sys.stdout = sys.stderr  # nothing the SDK prints may corrupt the protocol
    if IMPL not in ("ours", "official"):
        print("usage: sdk_worker.py ours|official", file=sys.stderr)
        return 2
    for line in sys.stdin:
        request = json.loads(line)
        op = request.pop("op")
        try:
            reply = {"ok": True, **OPS[op](**request)}
        except Exception as exc:
            traceback.print_exc()
            reply = {"ok": False, "error": f"{op}: {type(exc).__name__}: {exc}"}
        protocol.write(json.dumps(reply) + "\n")
        protocol.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
