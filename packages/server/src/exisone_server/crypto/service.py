"""Create, rotate and use tenant key pairs (RSA-2048, PKCS#1 v1.5 SHA-256 signatures)."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit import record_audit
from ..errors import NotFound
from ..kit.time import utc_now
from ..models import CryptoKey
from .master_key import MasterKey

__all__ = [
    "RSA_KEY_BITS",
    "create_crypto_key",
    "current_crypto_key",
    "list_crypto_keys",
    "load_signing_key",
    "rotate_crypto_key",
]

RSA_KEY_BITS = 2048


def _associated_data(tenant_id: int, fingerprint: str) -> bytes:
    return f"exisone-crypto-key:{tenant_id}:{fingerprint}".encode("ascii")


async def create_crypto_key(
    session: AsyncSession, tenant_id: int, master_key: MasterKey, *, bits: int = RSA_KEY_BITS
) -> CryptoKey:
    """A new key pair that becomes the tenant's current key (the old one is retired)."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    public_der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fingerprint = hashlib.sha256(public_der).hexdigest()
    private_der = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    nonce, ciphertext = master_key.encrypt(private_der, _associated_data(tenant_id, fingerprint))
    now = utc_now()
    await session.execute(
        update(CryptoKey)
        .where(CryptoKey.tenant_id == tenant_id, CryptoKey.is_current.is_(True))
        .values(is_current=False, retired_at=now)
    )
    key = CryptoKey(
        tenant_id=tenant_id,
        fingerprint=fingerprint,
        public_key_pem=public_pem.decode("ascii"),
        private_key_encrypted=ciphertext,
        nonce=nonce,
        master_key_id=master_key.key_id,
        is_current=True,
        created_at=now,
    )
    session.add(key)
    await session.flush()
    await record_audit(
        session,
        tenant_id,
        "crypto_key.create",
        target_type="crypto_key",
        target=fingerprint[:16],
        details={"encryptedUnder": master_key.key_id},
    )
    return key


rotate_crypto_key = create_crypto_key


async def current_crypto_key(session: AsyncSession, tenant_id: int) -> CryptoKey:
    """The tenant's current key, or 404 ``crypto_key_not_found``."""
    key = await session.scalar(
        select(CryptoKey).where(CryptoKey.tenant_id == tenant_id, CryptoKey.is_current.is_(True))
    )
    if key is None:
        raise NotFound("crypto_key_not_found", "This tenant has no crypto key yet.")
    return key


async def list_crypto_keys(session: AsyncSession, tenant_id: int) -> list[CryptoKey]:
    """All keys of the tenant, current first, then newest first."""
    result = await session.scalars(
        select(CryptoKey)
        .where(CryptoKey.tenant_id == tenant_id)
        .order_by(CryptoKey.is_current.desc(), CryptoKey.seq.desc(), CryptoKey.id.desc())
    )
    return list(result)


def load_signing_key(key: CryptoKey, master_key: MasterKey) -> rsa.RSAPrivateKey:
    """Decrypt a stored private key (raises if it was encrypted under another master key)."""
    if key.master_key_id != master_key.key_id:
        raise RuntimeError(
            f"crypto key {key.id} was encrypted under master key {key.master_key_id}, "
            f"but the configured master key is {master_key.key_id}"
        )
    der = master_key.decrypt(
        key.nonce, key.private_key_encrypted, _associated_data(key.tenant_id, key.fingerprint)
    )
    private_key = serialization.load_der_private_key(der, password=None)
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise RuntimeError(f"crypto key {key.id} is not an RSA key")
    return private_key
