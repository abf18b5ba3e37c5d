"""A tenant's key pair, RSA or Ed25519; the private key is AES-GCM encrypted under the master key.

RSA keys sign offline codes and signed answers and open sealed requests (the protocol's
formats); an Ed25519 key, when the tenant has a current one, signs its lease tokens instead of
the RSA key (docs/floating.md). A tenant has at most one current key of each algorithm.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model, text_enum
from .ids import insertion_seq_column, random_id_column

__all__ = ["CryptoKey", "KeyAlgorithm"]


class KeyAlgorithm(enum.StrEnum):
    """What a key pair is: ``rsa`` (RSA-2048) or ``ed25519``."""

    RSA = "rsa"
    ED25519 = "ed25519"


class CryptoKey(Model):
    __tablename__ = "crypto_keys"
    #: Random (models/ids.py): tenants see it.
    id: Mapped[int] = random_id_column()
    seq: Mapped[int | None] = insertion_seq_column()

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    #: SHA-256 hex of the public key's DER (SubjectPublicKeyInfo): a stable key identifier.
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    algorithm: Mapped[KeyAlgorithm] = mapped_column(
        text_enum(KeyAlgorithm, length=16),
        default=KeyAlgorithm.RSA,
        server_default=KeyAlgorithm.RSA.value,
    )
    public_key_pem: Mapped[str] = mapped_column(Text)
    #: AES-GCM ciphertext of the PKCS#8 DER private key; the 12-byte nonce is stored separately.
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    #: Identifies the master key that encrypted the private key (for master-key rotation).
    master_key_id: Mapped[str] = mapped_column(String(32))
    is_current: Mapped[bool] = mapped_column(default=True)
    retired_at: Mapped[datetime | None] = mapped_column(default=None)


# At most one current key per tenant and algorithm (a partial unique index on both databases).
Index(
    "uq_crypto_keys_current_per_tenant",
    CryptoKey.tenant_id,
    CryptoKey.algorithm,
    unique=True,
    sqlite_where=text("is_current"),
    postgresql_where=text("is_current"),
)
