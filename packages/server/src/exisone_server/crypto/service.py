"""Create, rotate and use tenant key pairs: RSA-2048 (PKCS#1 v1.5 SHA-256 signatures) for the
protocol's formats, Ed25519 for lease tokens when the tenant has one (models/crypto_key.py)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit import record_audit
from ..errors import NotFound
from ..kit.time import utc_now
from ..models import CryptoKey, KeyAlgorithm
from .master_key import MasterKey

__all__ = [
    "RSA_KEY_BITS",
    "PrivateKey",
    "as_rsa",
    "create_crypto_key",
    "current_crypto_key",
    "current_key",
    "find_current_key",
    "keys_of",
    "list_crypto_keys",
    "load_private_key",
    "load_signing_key",
    "public_keys_pem",
    "retire_crypto_keys",
    "rotate_crypto_key",
    "sign_lease_tokens_with",
]

RSA_KEY_BITS = 2048

#: A tenant's private key of either algorithm.
PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def keys_of(tenant_id: int, algorithm: KeyAlgorithm) -> ColumnElement[bool]:
    """Where-clause: the tenant's keys of ``algorithm``, current and retired. Offline codes,
    signed answers and sealed requests use the RSA ones; Ed25519 keys sign lease tokens only."""
    return and_(CryptoKey.tenant_id == tenant_id, CryptoKey.algorithm == algorithm)


def current_key(tenant_id: int, algorithm: KeyAlgorithm) -> ColumnElement[bool]:
    """Where-clause: the tenant's current key of ``algorithm`` (at most one)."""
    return and_(keys_of(tenant_id, algorithm), CryptoKey.is_current.is_(True))


def _associated_data(tenant_id: int, fingerprint: str) -> bytes:
    return f"exisone-crypto-key:{tenant_id}:{fingerprint}".encode("ascii")


def _new_private_key(algorithm: KeyAlgorithm, bits: int) -> PrivateKey:
    if algorithm is KeyAlgorithm.ED25519:
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


async def create_crypto_key(
    session: AsyncSession,
    tenant_id: int,
    master_key: MasterKey,
    *,
    bits: int = RSA_KEY_BITS,
    algorithm: KeyAlgorithm = KeyAlgorithm.RSA,
) -> CryptoKey:
    """A new key pair that becomes the tenant's current key of its algorithm (the old one is
    retired)."""
    private_key = _new_private_key(algorithm, bits)
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
    await _retire(session, tenant_id, algorithm, now)
    key = CryptoKey(
        tenant_id=tenant_id,
        fingerprint=fingerprint,
        algorithm=algorithm,
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
        details={"encryptedUnder": master_key.key_id, "algorithm": algorithm.value},
    )
    return key


rotate_crypto_key = create_crypto_key


async def _retire(
    session: AsyncSession, tenant_id: int, algorithm: KeyAlgorithm, now: datetime
) -> int:
    result = await session.execute(
        update(CryptoKey)
        .where(current_key(tenant_id, algorithm))
        .values(is_current=False, retired_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def retire_crypto_keys(
    session: AsyncSession, tenant_id: int, algorithm: KeyAlgorithm
) -> bool:
    """Retire the tenant's current key of ``algorithm`` (its public key stays listed); False
    when it had none. Retiring the Ed25519 key makes lease tokens RSA-signed again."""
    if algorithm is KeyAlgorithm.RSA:
        raise ValueError("the RSA key can be rotated, not retired: the protocol needs one")
    retired = await _retire(session, tenant_id, algorithm, utc_now()) > 0
    if retired:
        await record_audit(
            session,
            tenant_id,
            "crypto_key.retire",
            target_type="crypto_key",
            details={"algorithm": algorithm.value},
        )
    return retired


async def sign_lease_tokens_with(
    session: AsyncSession, tenant_id: int, master_key: MasterKey, algorithm: KeyAlgorithm
) -> CryptoKey | None:
    """Choose what signs the tenant's lease tokens: ``ed25519`` makes a new current Ed25519 key
    (returned: clients need its public key), ``rsa`` retires the Ed25519 key (None)."""
    if algorithm is KeyAlgorithm.ED25519:
        return await create_crypto_key(session, tenant_id, master_key, algorithm=algorithm)
    await retire_crypto_keys(session, tenant_id, KeyAlgorithm.ED25519)
    return None


async def find_current_key(
    session: AsyncSession, tenant_id: int, algorithm: KeyAlgorithm
) -> CryptoKey | None:
    """The tenant's current key of ``algorithm``, or None."""
    return await session.scalar(select(CryptoKey).where(current_key(tenant_id, algorithm)))


async def current_crypto_key(
    session: AsyncSession, tenant_id: int, algorithm: KeyAlgorithm = KeyAlgorithm.RSA
) -> CryptoKey:
    """The tenant's current key of ``algorithm``, or 404 ``crypto_key_not_found``."""
    key = await find_current_key(session, tenant_id, algorithm)
    if key is None:
        raise NotFound("crypto_key_not_found", f"This tenant has no {algorithm.value} key.")
    return key


async def list_crypto_keys(session: AsyncSession, tenant_id: int) -> list[CryptoKey]:
    """All keys of the tenant, current first, then newest first."""
    result = await session.scalars(
        select(CryptoKey)
        .where(CryptoKey.tenant_id == tenant_id)
        .order_by(CryptoKey.is_current.desc(), CryptoKey.seq.desc(), CryptoKey.id.desc())
    )
    return list(result)


async def public_keys_pem(session: AsyncSession, tenant_id: int) -> str:
    """Every public key of the tenant, RSA and Ed25519, current first, as one PEM text: what a
    client's ``offline_public_key`` takes to check offline codes and lease tokens."""
    return "".join(key.public_key_pem for key in await list_crypto_keys(session, tenant_id))


def load_private_key(key: CryptoKey, master_key: MasterKey) -> PrivateKey:
    """Decrypt a stored private key of either algorithm (raises if it was encrypted under
    another master key)."""
    if key.master_key_id != master_key.key_id:
        raise RuntimeError(
            f"crypto key {key.id} was encrypted under master key {key.master_key_id}, "
            f"but the configured master key is {master_key.key_id}"
        )
    der = master_key.decrypt(
        key.nonce, key.private_key_encrypted, _associated_data(key.tenant_id, key.fingerprint)
    )
    private_key = serialization.load_der_private_key(der, password=None)
    if not isinstance(private_key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise RuntimeError(f"crypto key {key.id} is neither RSA nor Ed25519")
    return private_key


def as_rsa(key: CryptoKey, private_key: PrivateKey) -> rsa.RSAPrivateKey:
    """``key``'s decrypted ``private_key``, which must be RSA (the protocol's formats)."""
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise RuntimeError(f"crypto key {key.id} is not an RSA key")
    return private_key


def load_signing_key(key: CryptoKey, master_key: MasterKey) -> rsa.RSAPrivateKey:
    """:func:`load_private_key` of a key that must be RSA (the protocol's formats)."""
    return as_rsa(key, load_private_key(key, master_key))
