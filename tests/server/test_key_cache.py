"""Decrypted signing keys are cached per process, keyed by the stored key and master key."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from exisone_server.crypto.key_cache import cached_signing_key, clear_signing_key_cache
from exisone_server.crypto.master_key import MasterKey
from exisone_server.models import CryptoKey, KeyAlgorithm

from .seeding import Seed


async def test_a_key_is_decrypted_once_and_checked_against_the_master_key(seed: Seed) -> None:
    async with seed.database.read_session() as session:
        stored = await session.scalar(
            select(CryptoKey).where(
                CryptoKey.tenant_id == seed.tenant.id, CryptoKey.algorithm == KeyAlgorithm.RSA
            )
        )
    assert stored is not None
    clear_signing_key_cache()

    first = cached_signing_key(stored, seed.master_key)
    again = cached_signing_key(stored, seed.master_key)

    assert again is first
    public = first.public_key().public_numbers()
    assert public.n.bit_length() == 2048
    with pytest.raises(RuntimeError, match="encrypted under master key"):
        cached_signing_key(stored, MasterKey(bytes(32)))
    clear_signing_key_cache()
    assert cached_signing_key(stored, seed.master_key) is not first
