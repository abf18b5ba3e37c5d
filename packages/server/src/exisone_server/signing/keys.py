"""The tenant's current signing key, decrypted once per process and key (never logged)."""

from __future__ import annotations

import time

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from ..crypto.master_key import MasterKey
from ..crypto.service import current_key, load_signing_key
from ..db import Database
from ..models import CryptoKey, KeyAlgorithm

__all__ = ["CURRENT_KEY_TTL_S", "SigningKeys"]

#: How long a tenant's current key id is reused before it is looked up again: a rotation reaches
#: the signatures of every process within this many seconds (clients trust old and new keys).
CURRENT_KEY_TTL_S = 5.0


class SigningKeys:
    """Looks up the tenant's current key id on each call; decrypts each key only once."""

    def __init__(self, master_key: MasterKey) -> None:
        self._master_key = master_key
        self._decrypted: dict[str, rsa.RSAPrivateKey] = {}
        self._current: dict[int, tuple[str, float]] = {}

    def __repr__(self) -> str:
        return f"<SigningKeys cached={len(self._decrypted)}>"

    async def current(self, database: Database, tenant_id: int) -> tuple[str, rsa.RSAPrivateKey]:
        """``(key id, private key)`` of the tenant's current key; LookupError when it has none.

        The current fingerprint is looked up at most every :data:`CURRENT_KEY_TTL_S` seconds per
        tenant; the key row is read and decrypted only the first time a fingerprint is seen.
        """
        cached = self._current.get(tenant_id)
        if cached is not None and cached[1] > time.monotonic():
            fingerprint: str | None = cached[0]
        else:
            current = current_key(tenant_id, KeyAlgorithm.RSA)
            async with database.read() as connection:
                fingerprint = await connection.scalar(select(CryptoKey.fingerprint).where(current))
            if fingerprint is None:
                raise LookupError(f"tenant {tenant_id} has no crypto key")
            self._current[tenant_id] = (fingerprint, time.monotonic() + CURRENT_KEY_TTL_S)
        assert fingerprint is not None
        private_key = self._decrypted.get(fingerprint)
        if private_key is None:
            async with database.read_session() as session:
                key = await session.scalar(
                    select(CryptoKey).where(CryptoKey.fingerprint == fingerprint)
                )
                if key is None:
                    raise LookupError(f"tenant {tenant_id} has no crypto key")
                private_key = load_signing_key(key, self._master_key)
            self._decrypted[fingerprint] = private_key
        return fingerprint, private_key
