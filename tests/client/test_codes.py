"""The protocol's codes: plain strings on the wire, and each validation reason's status."""

from __future__ import annotations

import json

import pytest

from exisone import ValidationStatus
from exisone.protocol import ErrorCode, ValidationReason

#: The reasons whose answer is not ``isValid: false, status: invalid``.
NOT_INVALID = {
    "licensed": ("licensed", True),
    "trial_active": ("trial", True),
    "trial_expired": ("expired", False),
    "license_expired": ("expired", False),
    "version_outdated": ("version_outdated", False),
}


@pytest.mark.parametrize("reason", list(ValidationReason))
def test_each_reason_has_the_status_and_validity_of_its_answer(reason: ValidationReason) -> None:
    status, is_valid = NOT_INVALID.get(reason.value, ("invalid", False))
    assert reason.status == status and isinstance(reason.status, ValidationStatus)
    assert reason.is_valid is is_valid


def test_codes_are_the_strings_on_the_wire() -> None:
    assert ErrorCode.LICENSE_IN_USE == "license_in_use"
    assert f"{ErrorCode.SEAT_LIMIT_REACHED}" == str(ErrorCode.SEAT_LIMIT_REACHED)
    assert str(ValidationReason.OFFLINE_CODE_INVALID) == "offline_code_invalid"
    body = {"error": ErrorCode.NOT_CORPORATE, "reason": ValidationReason.NOT_ACTIVATED}
    assert json.dumps(body) == '{"error": "not_corporate", "reason": "not_activated"}'
    assert ErrorCode("rate_limited") is ErrorCode.RATE_LIMITED
    for code in [*ErrorCode, *ValidationReason]:
        assert code.value == code.name.lower()
