"""Signing secrets (encrypted at rest with the master key) and the delivery signature.

``ExisOne-Webhook-Signature: v1=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from ..crypto.master_key import MasterKey

__all__ = ["decrypt_secret", "encrypt_secret", "new_secret", "sign"]

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A new signing secret; receivers use the whole string as the HMAC key."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _associated_data(tenant_id: int, url: str) -> bytes:
    return f"exisone-webhook-secret:{tenant_id}:{url}".encode()


def encrypt_secret(
    master_key: MasterKey, tenant_id: int, url: str, secret: str
) -> tuple[bytes, bytes]:
    """``(nonce, ciphertext)`` bound to the endpoint's tenant and URL."""
    return master_key.encrypt(secret.encode(), _associated_data(tenant_id, url))


def decrypt_secret(
    master_key: MasterKey, tenant_id: int, url: str, nonce: bytes, ciphertext: bytes
) -> str:
    return master_key.decrypt(nonce, ciphertext, _associated_data(tenant_id, url)).decode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    message = str(timestamp).encode() + b"." + body
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
