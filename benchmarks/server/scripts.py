"""wrk Lua scripts: POST validate or activate bodies for random licenses of a deployment."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = [
    "activate_script",
    "checkout_script",
    "consume_script",
    "heartbeat_script",
    "validate_script",
]

_COMMON = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "ExisOneApi " .. {token}
local product = {product}
"""

_VALIDATE = """
local n = {licenses}
request = function()
  local i = math.random(1, n)
  local key = string.format("BNCH-%04d-%04d-%04d",
    math.floor(i / 100000000), math.floor(i / 10000) % 10000, i % 10000)
  local device = (math.random(2) == 1) and "A" or "B"
  local body = string.format('{{"activationKey":"%s","hardwareId":"HW%d%s","productName":"%s"}}',
    key, i, device, product)
  return wrk.format(nil, nil, nil, body)
end
"""

_ACTIVATE = """
local n = {licenses}
local tag = {tag}
local counter = 0
request = function()
  counter = counter + 1
  local i = math.random(1, n)
  local body = string.format(
    '{{"activationKey":"ACTV-0000-0000-%04d","hardwareId":"NEW%s-%d","productName":"%s"}}',
    i, tag, counter, product)
  return wrk.format(nil, nil, nil, body)
end
"""


def _lua(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid Lua string literal for these values


_PACED = """
function delay()
  return {think_ms}
end
"""


def validate_script(
    path: Path, token: str, product: str, licenses: int, *, think_ms: float | None = None
) -> Path:
    """A script validating random licenses ``1..licenses`` on one of their two devices.

    With ``think_ms``, each connection waits that long after an answer before its next request
    (wrk's ``delay()``), like clients that do something between checks: the offered rate is
    then at most connections ÷ think time, below the server's saturation.
    """
    common = _COMMON.format(token=_lua(token), product=_lua(product))
    paced = _PACED.format(think_ms=f"{think_ms:.3f}") if think_ms is not None else ""
    path.write_text(common + _VALIDATE.format(licenses=licenses) + paced, "utf-8")
    return path


def activate_script(path: Path, token: str, product: str, licenses: int, tag: str) -> Path:
    """A script activating new devices (unique per run ``tag``) on the activation licenses."""
    common = _COMMON.format(token=_lua(token), product=_lua(product))
    path.write_text(common + _ACTIVATE.format(licenses=licenses, tag=_lua(tag)), "utf-8")
    return path


_CONSUME = """
local keys = {{{keys}}}
request = function()
  local key = keys[math.random(1, #keys)]
  return wrk.format(nil, nil, nil, '{{"activationKey":"' .. key .. '","amount":1}}')
end
"""


def consume_script(
    path: Path, token: str, keys: list[str], *, think_ms: float | None = None
) -> Path:
    """A script consuming 1 call of a random key of ``keys`` per request (paced like
    :func:`validate_script` with ``think_ms``)."""
    common = _COMMON.format(token=_lua(token), product=_lua(""))
    listed = ",".join(_lua(key) for key in keys)
    paced = _PACED.format(think_ms=f"{think_ms:.3f}") if think_ms is not None else ""
    path.write_text(common + _CONSUME.format(keys=listed) + paced, "utf-8")
    return path


_HEARTBEAT = """
local leases = {{{leases}}}
request = function()
  local lease = leases[math.random(1, #leases)]
  return wrk.format(nil, nil, nil, '{{"leaseId":"' .. lease .. '"}}')
end
"""


def heartbeat_script(
    path: Path, token: str, leases: list[str], *, think_ms: float | None = None
) -> Path:
    """A script heartbeating a random lease of ``leases`` per request (paced like
    :func:`validate_script` with ``think_ms``)."""
    common = _COMMON.format(token=_lua(token), product=_lua(""))
    listed = ",".join(_lua(lease) for lease in leases)
    paced = _PACED.format(think_ms=f"{think_ms:.3f}") if think_ms is not None else ""
    path.write_text(common + _HEARTBEAT.format(leases=listed) + paced, "utf-8")
    return path


_CHECKOUT = """
local key = {key}
local tag = {tag}
local counter = 0
request = function()
  counter = counter + 1
  local body = string.format(
    '{{"activationKey":"%s","hardwareId":"LEASE%s-%d-%d","productName":"%s","ttlSeconds":%d}}',
    key, tag, counter, math.random(1, 1000000000), product, {ttl})
  return wrk.format(nil, nil, nil, body)
end
"""


def checkout_script(path: Path, token: str, product: str, key: str, tag: str, ttl: int) -> Path:
    """A script checking a lease of the floating license ``key`` out for a new device each
    request (unique per run ``tag``), with a TTL of ``ttl`` seconds."""
    common = _COMMON.format(token=_lua(token), product=_lua(product))
    body = _CHECKOUT.format(key=_lua(key), tag=_lua(tag), ttl=int(ttl))
    path.write_text(common + body, "utf-8")
    return path
