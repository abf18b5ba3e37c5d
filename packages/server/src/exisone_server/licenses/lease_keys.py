"""The keys that sign lease tokens, kept per process by fingerprint.

A tenant's lease tokens are signed with its current Ed25519 key when it has one, else with its
current RSA key (docs/floating.md). Which key that is comes from the batch's own locking read
(:data:`LEASE_KEY`, one column beside the license), so a switch of algorithm or a new key is
seen by the next checkout or heartbeat. Only the key's row is kept between batches: a key pair
never changes under its fingerprint (the SHA-256 of its public key), so the row read once serves
every later batch, and each batch saves a statement and the building of its rows. A key that
this batch has to make (a tenant without any) is not kept: its transaction may still roll back.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

from sqlalchemy import bindparam, case, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit.context import Actor, acting_as
from ..crypto.master_key import MasterKey
from ..crypto.service import create_crypto_key
from ..models import CryptoKey, KeyAlgorithm, License
from ..statements import NeedsSession

__all__ = ["LEASE_KEY", "MAX_KEPT_KEYS", "LeaseKeys"]

#: Keys kept at most (the least recently used ones are dropped).
MAX_KEPT_KEYS = 1_024

#: The fingerprint of the key that signs the license's tenant's lease tokens (a column of a
#: statement over :class:`License`; None while the tenant has no key).
LEASE_KEY = (
    select(CryptoKey.fingerprint)
    .where(CryptoKey.tenant_id == License.tenant_id, CryptoKey.is_current.is_(True))
    .order_by(case((CryptoKey.algorithm == KeyAlgorithm.ED25519, 0), else_=1))
    .limit(1)
    .correlate(License)
    .scalar_subquery()
)

_BY_FINGERPRINT = select(CryptoKey).where(
    CryptoKey.fingerprint.in_(bindparam("fingerprints", expanding=True))
)


class LeaseKeys:
    """The lease-signing keys of one database as this process read them, and the master key
    that decrypts them."""

    def __init__(self, master_key: MasterKey) -> None:
        self.master_key = master_key
        self._kept: OrderedDict[str, CryptoKey] = OrderedDict()

    async def of_tenants(
        self,
        session: AsyncSession | None,
        fingerprints: Mapping[int, str | None],
        actors: Mapping[int, Actor],
    ) -> dict[int, CryptoKey]:
        """Each tenant's signing key, given the fingerprint :data:`LEASE_KEY` read for it; a
        tenant without a key gets an RSA key now, made by its actor in ``actors``. Without a
        session, only kept keys can be given: reading or making one raises
        :class:`..statements.NeedsSession`."""
        wanted = {fp for fp in fingerprints.values() if fp is not None}
        found = {fp: self._kept[fp] for fp in wanted if fp in self._kept}
        missing = sorted(wanted - set(found))
        keys: dict[int, CryptoKey] = {}
        if missing or None in fingerprints.values():
            if session is None:
                raise NeedsSession("a lease-signing key to read or make")
            if missing:
                for key in await session.scalars(_BY_FINGERPRINT, {"fingerprints": missing}):
                    session.expunge(key)  # read-only from here on, shared by later batches
                    found[key.fingerprint] = key
            for tenant_id, fingerprint in fingerprints.items():
                if fingerprint is None:
                    with acting_as(actors[tenant_id]):
                        keys[tenant_id] = await create_crypto_key(
                            session, tenant_id, self.master_key
                        )
        for tenant_id, fingerprint in fingerprints.items():
            if fingerprint is not None:
                keys[tenant_id] = found[fingerprint]
        self._keep(found)
        return keys

    def _keep(self, keys: Mapping[str, CryptoKey]) -> None:
        """Keep ``keys`` as the most recently used (after the batch took what it needs from
        them: dropping the least recently used never takes a key from under a batch)."""
        for fingerprint, key in keys.items():
            self._kept[fingerprint] = key
            self._kept.move_to_end(fingerprint)
        while len(self._kept) > MAX_KEPT_KEYS:
            self._kept.popitem(last=False)
