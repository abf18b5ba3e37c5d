"""A publisher key pair, and offline codes signed with it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .._answer_signature import key_id
from .._dates import format_datetime
from .._offline import issue_offline_code as _sign_code

__all__ = ["KeyPair", "issue_offline_code"]


@dataclass(frozen=True)
class KeyPair:
    """An RSA key pair like a tenant's: ``public_key_pem`` goes to ``offline_public_key``."""

    private_key: rsa.RSAPrivateKey = field(repr=False)

    @classmethod
    def generate(cls, bits: int = 2048) -> KeyPair:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=bits))

    @property
    def public_key_pem(self) -> str:
        return (
            self.private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )

    @property
    def key_id(self) -> str:
        """SHA-256 hex of the public key (as exisone-server's key fingerprint)."""
        return key_id(self.private_key.public_key())


def issue_offline_code(
    key_pair: KeyPair,
    *,
    product_name: str,
    hardware_id: str,
    expires: datetime | None = None,
    features: Sequence[str] = (),
    email: str = "user@example.com",
    product_id: int = 1,
    tenant_id: int = 1,
    version: str = "",
    activation_key: str = "",
    issued_at: datetime | None = None,
    check_in_days: int | None = None,
) -> str:
    """An offline activation code as exisone-server issues it, naming its key (``kid``).

    ``issued_at`` (default: the real now; pass your FakeClock's time) is signed into the code:
    a client clock behind it is ``clock_tampered``. ``expires`` defaults to a year after it.
    ``check_in_days`` adds the final ``checkInDays`` key (a plan's check-in period).
    """
    now = issued_at or datetime.now(timezone.utc)
    payload = {
        "productId": product_id,
        "productName": product_name,
        "hardwareId": hardware_id,
        "expirationDate": format_datetime(expires or now + timedelta(days=365)),
        "email": email,
        "features": list(features),
        "tenantId": tenant_id,
        "version": version,
        "activationKey": activation_key,
        "issuedAt": format_datetime(now),
        "kid": key_pair.key_id,
    }
    if check_in_days is not None:
        payload["checkInDays"] = check_in_days
    return _sign_code(payload, key_pair.private_key)
