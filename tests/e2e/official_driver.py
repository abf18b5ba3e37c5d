# mypy: ignore-errors
# (type-checked here, `exisone` would be OUR package; this file runs against the official one)
"""Run calls of the official ``exisone-client`` 0.10.0 and print their outcomes as JSON.

Runs ONLY under ``.venvs/official/bin/python`` (its ``exisone`` is the official package, not
ours). Reads one JSON object on stdin::

    {"baseUrl": "https://127.0.0.1:PORT", "accessToken": "...", "caBundle": "/path/ca.pem",
     "offlinePublicKey": "-----BEGIN PUBLIC KEY-----...",  (optional)
     "calls": [{"method": "validate", "args": ["KEY", "HWID", "Product"]}, ...]}

and prints one JSON list, one entry per call, in order: ``{"value": ...}`` (dataclass results as
objects with ISO 8601 dates, ``remaining`` added for SeatUsage) or ``{"raised": "HTTPError",
"message": "...", "status": 404}``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import datetime
from typing import Any

import requests

from exisone import ExisOneClient, ExisOneClientOptions  # the OFFICIAL package (its venv)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        data = {field.name: _jsonable(getattr(value, field.name)) for field in fields}
        if hasattr(type(value), "remaining"):
            data["remaining"] = value.remaining
        return data
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


def _run(client: ExisOneClient, call: dict[str, Any]) -> dict[str, Any]:
    try:
        value = getattr(client, call["method"])(*call.get("args", []), **call.get("kwargs", {}))
    except Exception as error:  # reported to the test, which decides what is expected
        response = getattr(error, "response", None)
        return {
            "raised": type(error).__name__,
            "message": str(error),
            "status": getattr(response, "status_code", None),
        }
    return {"value": _jsonable(value)}


def main() -> None:
    request = json.load(sys.stdin)
    session = requests.Session()
    session.verify = request["caBundle"]
    options = ExisOneClientOptions(
        base_url=request["baseUrl"],
        access_token=request.get("accessToken", ""),
        offline_public_key=request.get("offlinePublicKey"),
        timeout=request.get("timeout", 30),
    )
    client = ExisOneClient(options, session)
    json.dump([_run(client, call) for call in request["calls"]], sys.stdout)


if __name__ == "__main__":
    main()
