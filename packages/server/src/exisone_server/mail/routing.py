"""Which mail server and sender a tenant's messages go out through.

A tenant's own SMTP (``tenant_mail_settings.smtp_host`` set) wins over the server-wide one
(``EXISONE_SMTP_URL``); its ``From`` and support address win over ``EXISONE_MAIL_FROM`` whichever
server sends. With neither server, the tenant's mail is not configured and stays queued.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..crypto.master_key import MasterKey
from ..errors import ApiError
from ..models import TenantMailSettings
from .settings import MailSettings
from .smtp import SmtpServer

__all__ = [
    "NOT_CONFIGURED",
    "MailNotConfigured",
    "Route",
    "decrypt_password",
    "encrypt_password",
    "load_tenant_settings",
    "reencrypt_passwords",
    "resolve_route",
    "support_address",
]

NOT_CONFIGURED = (
    "Mail is not configured: set your SMTP server on the E-mail page "
    "(or the server's EXISONE_SMTP_URL and EXISONE_MAIL_FROM)."
)


class MailNotConfigured(ApiError):
    """409 ``mail_not_configured`` (no usable mail server or sender for the tenant)."""

    status_code = 409

    def __init__(self, message: str = NOT_CONFIGURED) -> None:
        super().__init__("mail_not_configured", message)


@dataclass(frozen=True)
class Route:
    server: SmtpServer
    sender: str
    reply_to: str | None
    #: True when the tenant's own SMTP server is used.
    own: bool


def _associated_data(tenant_id: int) -> bytes:
    return f"exisone-smtp-password:{tenant_id}".encode()


def encrypt_password(master_key: MasterKey, tenant_id: int, password: str) -> tuple[bytes, bytes]:
    """``(nonce, ciphertext)`` of a tenant's SMTP password, bound to the tenant."""
    return master_key.encrypt(password.encode(), _associated_data(tenant_id))


def decrypt_password(master_key: MasterKey, row: TenantMailSettings) -> str | None:
    if row.password_nonce is None or row.password_ciphertext is None:
        return None
    try:
        plain = master_key.decrypt(
            row.password_nonce, row.password_ciphertext, _associated_data(row.tenant_id)
        )
    except InvalidTag:
        raise MailNotConfigured(
            "The stored SMTP password cannot be decrypted with this server's master key: "
            "enter it again on the E-mail page."
        ) from None
    return plain.decode()


async def reencrypt_passwords(session: AsyncSession, old: MasterKey, new: MasterKey) -> int:
    """Re-encrypt every tenant's SMTP password stored under ``old`` with ``new`` (master-key
    rotation, in the caller's transaction); returns how many were re-encrypted."""
    rows = await session.scalars(
        select(TenantMailSettings).where(TenantMailSettings.master_key_id == old.key_id)
    )
    count = 0
    for row in rows:
        password = decrypt_password(old, row)
        if password is None:
            continue
        row.password_nonce, row.password_ciphertext = encrypt_password(new, row.tenant_id, password)
        row.master_key_id = new.key_id
        count += 1
    await session.flush()
    return count


async def load_tenant_settings(session: AsyncSession, tenant_id: int) -> TenantMailSettings | None:
    return await session.scalar(
        select(TenantMailSettings).where(TenantMailSettings.tenant_id == tenant_id)
    )


def support_address(row: TenantMailSettings | None, settings: MailSettings) -> str:
    """The ``{{SupportEmail}}`` value: the tenant's support address, else its From, else the
    server's From ("" when none is set)."""
    from email.utils import parseaddr

    for candidate in (
        row.support_address if row else None,
        row.from_address if row else None,
        settings.sender,
    ):
        if candidate:
            return parseaddr(candidate)[1]
    return ""


def resolve_route(
    row: TenantMailSettings | None, settings: MailSettings, master_key: MasterKey
) -> Route:
    """The tenant's route, or :class:`MailNotConfigured` saying what is missing."""
    sender = (row.from_address if row else None) or settings.sender
    reply_to = row.support_address if row else None
    if row is not None and row.smtp_host:
        server = SmtpServer.with_default_port(
            row.smtp_host,
            row.smtp_port,
            row.smtp_security,
            row.smtp_username,
            decrypt_password(master_key, row),
        )
        own = True
    elif settings.smtp is not None:
        server, own = settings.smtp, False
    else:
        raise MailNotConfigured()
    if not sender:
        raise MailNotConfigured("Mail is not configured: set a From address on the E-mail page.")
    return Route(server, sender, reply_to, own)
