"""What the portal accepts as its address, a logo address and a slug."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

__all__ = ["check_logo_url", "check_slug", "public_origin"]

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
#: Slugs that name the portal's own paths.
_RESERVED = frozenset({"static"})
_LOOPBACK_NAMES = frozenset({"localhost"})


def check_slug(text: str) -> str:
    """A portal slug: 1-63 lower-case letters, digits and inner hyphens; ValueError otherwise."""
    slug = text.strip().lower()
    if not _SLUG.match(slug) or slug in _RESERVED:
        raise ValueError(
            "The portal address must be 1 to 63 lower-case letters, digits and hyphens "
            "(not starting or ending with a hyphen), e.g. acme."
        )
    return slug


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def public_origin(text: str, label: str = "The public address") -> str:
    """``scheme://host[:port]`` of an address customers reach the server at; ValueError naming
    ``label`` otherwise. HTTPS is required except for this machine (``http://localhost``): the
    sign-in links carry a secret."""
    parts = urlsplit(text.strip())
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{label} has an invalid port.") from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        raise ValueError(f"{label} must look like https://licenses.example.com.")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(
            f"{label} is the scheme and host only (the portal adds /portal/<address>)."
        )
    if parts.scheme == "http" and not _is_loopback(host):
        raise ValueError(f"{label} must use https:// (the sign-in links carry a secret).")
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}{f':{port}' if port else ''}"


def check_logo_url(text: str) -> str:
    """An ``https://`` image address (what the portal's security policy lets pages load)."""
    url = text.strip()
    parts = urlsplit(url)
    if (
        parts.scheme != "https"
        or not parts.hostname
        or len(url) > 2000
        or any(char.isspace() or char in "\"'<>\\" for char in url)
    ):
        raise ValueError("The logo must be an https:// address of an image.")
    return url
