"""Which strings are e-mail addresses: recipients (one bare address) and senders (with a name)."""

from __future__ import annotations

import re
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.utils import formataddr, parseaddr

__all__ = ["check_sender", "recipient"]

_FORBIDDEN = re.compile(r"[\s<>,;:\"()\[\]\\]")
_DOMAIN_LABEL = re.compile(r"^(?!-)[A-Za-z0-9\-\u0080-\U0010ffff]{1,63}(?<!-)$")


def recipient(text: str) -> str | None:
    """``text`` trimmed when it is one plain address (``user@example.com``), else None."""
    candidate = text.strip()
    if not candidate or len(candidate) > 320 or _FORBIDDEN.search(candidate):
        return None
    local, at, domain = candidate.rpartition("@")
    if not at or not local or len(local) > 64 or "@" in local:
        return None
    if not all(_DOMAIN_LABEL.match(label) for label in domain.split(".")):
        return None
    try:
        Address(addr_spec=candidate)
    except (HeaderParseError, ValueError, IndexError):
        return None
    return candidate


def check_sender(text: str, label: str) -> str:
    """A ``From`` value: ``Name <user@domain>`` or ``user@domain``; ValueError naming ``label``."""
    if "\r" in text or "\n" in text:
        raise ValueError(f"{label} must be one line")
    name, address = parseaddr(text.strip())
    if recipient(address) is None:
        raise ValueError(f"{label} must be an e-mail address, e.g. Acme <licenses@acme.example>")
    return formataddr((name, address)) if name else address
