"""Publisher calls the SDK has no method for (yet): license listing and offline-code issuance.

They are built as the SDK's own :class:`~exisone._core.Call` objects and sent by the client's
sender, so they share its base URL, token, TLS trust, retries and exception mapping exactly.
Promoting them to public SDK methods later means moving these builders into ``ClientCore``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

from .. import _parsing as parse
from .._client import ExisOneClient
from .._core import Call
from .._dates import utc_now
from .._exceptions import InvalidResponseError

__all__ = [
    "LICENSES_PAGE_MAX",
    "LicensePage",
    "issue_offline_code",
    "iter_licenses",
    "list_licenses",
]

#: The server's largest ``pageSize`` (docs/api.md).
LICENSES_PAGE_MAX = 100
LicensePage = dict[str, Any]


def _ok_object(reply: parse.Reply) -> dict[str, Any]:
    parse.raise_for_status(reply, utc_now())
    return parse.read_object(reply)


def _license_page(reply: parse.Reply) -> LicensePage:
    data = _ok_object(reply)
    items = data.get("items")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise InvalidResponseError("the license page has no list of items")
    return data


def _offline_code(reply: parse.Reply) -> dict[str, Any]:
    data = _ok_object(reply)
    if not isinstance(data.get("offlineCode"), str) or not data["offlineCode"]:
        raise InvalidResponseError("the server's answer has no offlineCode")
    return data


def list_licenses(
    client: ExisOneClient,
    filters: Mapping[str, str | None],
    page: int = 1,
    page_size: int = 50,
) -> LicensePage:
    """``GET /api/license/`` with paging: ``{items, page, pageSize, totalCount, totalPages}``.

    ``filters``: ``productName``, ``email``, ``status``, ``hardwareId``, ``q`` (blank ones are
    left out). Needs the ``generate`` permission.
    """
    query = {name: value for name, value in filters.items() if value}
    query.update(page=str(page), pageSize=str(page_size))
    path = f"/api/license/?{urlencode(query)}"
    call = Call("list_licenses", "GET", path, None, True, _license_page)
    return client._send(call)


def iter_licenses(
    client: ExisOneClient, filters: Mapping[str, str | None]
) -> Iterator[tuple[dict[str, Any], int]]:
    """Every matching license, page after page: ``(license, totalCount)``.

    Licenses created while paging (newest first) may shift a page; a key seen twice is skipped.
    """
    seen: set[str] = set()
    page = 1
    while True:
        data = list_licenses(client, filters, page, LICENSES_PAGE_MAX)
        total = int(data.get("totalCount") or 0)
        for item in data["items"]:
            key = str(item.get("activationKey", ""))
            if key not in seen:
                seen.add(key)
                yield item, total
        if not data["items"] or page >= int(data.get("totalPages") or 0):
            return
        page += 1


def issue_offline_code(
    client: ExisOneClient, activation_key: str, hardware_id: str
) -> dict[str, Any]:
    """``POST /api/license/offline-code``: the server's answer (``offlineCode``, ...).

    Binds the device like an activation; asking again for the same device takes no new seat,
    so it is retried like activate. Needs the ``generate`` permission.
    """
    payload = {"activationKey": activation_key, "hardwareId": hardware_id}
    call = Call(
        "issue_offline_code", "POST", "/api/license/offline-code", payload, True, _offline_code
    )
    return client._send(call)
