"""The two combiners that turn identifier strings into a 64-character upper-case hex ID.

``legacy_hash`` is exisone-client 0.9/0.10's: salt and components glued together with no
separator (so ``["ab", "c"]`` and ``["a", "bc"]`` collide; kept only for compatibility).
``stable_hash`` frames every part as a netstring (``<byte length>:<bytes>,``) after a versioned
salt, so distinct component lists can never produce the same hash input.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = ["LEGACY_SALT", "STABLE_SALT", "legacy_hash", "stable_hash"]

LEGACY_SALT = "ExisOneHardwareSalt_v1"
STABLE_SALT = "ExisOneHardwareId/stable/v1"


def legacy_hash(components: Sequence[str]) -> str:
    """SHA-256 of ``LEGACY_SALT + "".join(components)`` (UTF-8), as upper-case hex."""
    data = (LEGACY_SALT + "".join(components)).encode("utf-8")
    return hashlib.sha256(data).hexdigest().upper()


def stable_hash(components: Sequence[str]) -> str:
    """SHA-256 of the salt and the components, each netstring-framed, as upper-case hex."""
    digest = hashlib.sha256()
    for part in (STABLE_SALT, *components):
        encoded = part.encode("utf-8")
        digest.update(b"%d:%s," % (len(encoded), encoded))
    return digest.hexdigest().upper()
