"""The tenant's current signing key, decrypted once per process and key (never logged)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from ..crypto.master_key import MasterKey
from ..crypto.service import load_signing_key
from ..db import Database
from ..models import CryptoKey

__all__ = ["SigningKeys"]


class SigningKeys:
    """Looks up the tenant's current key id on each call; decrypts each key only once."""

    def __init__(self, master_key: MasterKey) -> None:
        self._master_key = master_key
        self._decrypted: dict[str, rsa.RSAPrivateKey] = {}

    def __repr__(self) -> str:
        return f"<SigningKeys cached={len(self._decrypted)}>"

    async def current(self, database: Database, tenant_id: int) -> tuple[str, rsa.RSAPrivateKey]:
        """``(key id, private key)`` of the tenant's current key; LookupError when it has none."""
        async with database.read_session() as session:
            key = await session.scalar(
                select(CryptoKey).where(
                    CryptoKey.tenant_id == tenant_id, CryptoKey.is_current.is_(True)
                )
            )
            if key is None:
                raise LookupError(f"tenant {tenant_id} has no crypto key")
            private_key = self._decrypted.get(key.fingerprint)
            if private_key is None:
                private_key = load_signing_key(key, self._master_key)
                self._decrypted[key.fingerprint] = private_key
            return key.fingerprint, private_key
