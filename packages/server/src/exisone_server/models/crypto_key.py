"""A tenant's RSA key pair; the private key is AES-GCM encrypted under the master key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model
from .ids import insertion_seq_column, random_id_column

__all__ = ["CryptoKey"]


class CryptoKey(Model):
    __tablename__ = "crypto_keys"
    #: Random (models/ids.py): tenants see it.
    id: Mapped[int] = random_id_column()
    seq: Mapped[int | None] = insertion_seq_column()

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    #: SHA-256 hex of the public key's DER (SubjectPublicKeyInfo): a stable key identifier.
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    public_key_pem: Mapped[str] = mapped_column(Text)
    #: AES-GCM ciphertext of the PKCS#8 DER private key; the 12-byte nonce is stored separately.
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    #: Identifies the master key that encrypted the private key (for master-key rotation).
    master_key_id: Mapped[str] = mapped_column(String(32))
    is_current: Mapped[bool] = mapped_column(default=True)
    retired_at: Mapped[datetime | None] = mapped_column(default=None)


# At most one current key per tenant (a partial unique index on both databases).
Index(
    "uq_crypto_keys_current_per_tenant",
    CryptoKey.tenant_id,
    unique=True,
    sqlite_where=text("is_current"),
    postgresql_where=text("is_current"),
)
