"""Master-key rotation: re-encrypt every secret stored under the old master key with a new one.

Stored secrets: the tenants' private keys, RSA and Ed25519 (``crypto_keys``), the webhook
endpoints' signing secrets (``webhook_endpoints``), the tenants' SMTP passwords
(``tenant_mail_settings``) and their payment apps' keys (``payment_apps``). Everything happens
in one transaction, so a crash leaves every row under the old key or every row under the new
one. Rows already under the new key are skipped (a repeated run is harmless); rows under any
third key stop the rotation.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit import record_audit
from ..crypto.master_key import MasterKey
from ..models import CryptoKey, PaymentApp, TenantMailSettings, WebhookEndpoint

__all__ = ["MasterKeyRotation", "rotate_master_key"]


@dataclass(frozen=True)
class MasterKeyRotation:
    old_key_id: str
    new_key_id: str
    crypto_keys: int
    webhook_secrets: int
    smtp_passwords: int
    payment_apps: int = 0


def _crypto_associated_data(key: CryptoKey) -> bytes:
    return f"exisone-crypto-key:{key.tenant_id}:{key.fingerprint}".encode("ascii")


async def rotate_master_key(
    session: AsyncSession, old: MasterKey, new: MasterKey
) -> MasterKeyRotation:
    """Re-encrypt under ``new`` (in the caller's write transaction); raises ``ValueError`` for
    rows encrypted under neither key (they would be unreadable afterwards)."""
    if old.key_id == new.key_id:
        raise ValueError("the new master key is the current one")
    from ..mail.routing import reencrypt_passwords
    from ..payments.apps import reencrypt_app_secrets
    from ..webhooks.signing import decrypt_secret, encrypt_secret

    keys = list(await session.scalars(select(CryptoKey).order_by(CryptoKey.id)))
    endpoints = list(await session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))
    mail_keys = set(
        await session.scalars(
            select(TenantMailSettings.master_key_id).where(
                TenantMailSettings.password_ciphertext.is_not(None)
            )
        )
    )
    used = {key.master_key_id for key in keys} | {point.master_key_id for point in endpoints}
    used |= {key_id for key_id in mail_keys if key_id}
    used |= {key_id for key_id in await session.scalars(select(PaymentApp.master_key_id)) if key_id}
    strangers = used - {old.key_id, new.key_id}
    if strangers:
        raise ValueError(
            "some secrets are encrypted under another master key "
            f"({', '.join(sorted(strangers))}); rotate from that key first"
        )
    crypto_count = 0
    for key in keys:
        if key.master_key_id != old.key_id:
            continue
        plaintext = old.decrypt(key.nonce, key.private_key_encrypted, _crypto_associated_data(key))
        key.nonce, key.private_key_encrypted = new.encrypt(plaintext, _crypto_associated_data(key))
        key.master_key_id = new.key_id
        crypto_count += 1
    webhook_count = 0
    for endpoint in endpoints:
        if endpoint.master_key_id != old.key_id:
            continue
        secret = decrypt_secret(
            old, endpoint.tenant_id, endpoint.url, endpoint.secret_nonce, endpoint.secret_ciphertext
        )
        endpoint.secret_nonce, endpoint.secret_ciphertext = encrypt_secret(
            new, endpoint.tenant_id, endpoint.url, secret
        )
        endpoint.master_key_id = new.key_id
        webhook_count += 1
    smtp_count = await reencrypt_passwords(session, old, new)
    app_count = await reencrypt_app_secrets(session, old, new)
    await session.flush()
    for tenant_id in sorted({key.tenant_id for key in keys}):
        await record_audit(
            session,
            tenant_id,
            "master_key.rotate",
            target_type="master_key",
            target=new.key_id,
            details={"from": old.key_id},
        )
    return MasterKeyRotation(
        old.key_id, new.key_id, crypto_count, webhook_count, smtp_count, app_count
    )
