"""A tenant's provider apps: keys encrypted under the master key (never shown again), their
status (Ready / Partial / Not configured), and re-encryption when the master key rotates."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..crypto.master_key import MasterKey
from ..errors import BadRequest, NotFound
from ..kit.time import utc_now
from ..models import PaymentApp
from .providers import PROVIDERS, AppKeys

__all__ = [
    "AppForm",
    "AppStatus",
    "AppView",
    "app_keys",
    "app_view",
    "delete_app",
    "get_app",
    "list_apps",
    "reencrypt_app_secrets",
    "save_app",
]

_CURRENCY = re.compile(r"^[a-z]{3}$")
_SECRET_FIELDS = ("secret_key", "signing_secret")


class AppStatus(enum.StrEnum):
    READY = "Ready"
    #: Events are verified, but something the provider's API needs is missing.
    PARTIAL = "Partial"
    NOT_CONFIGURED = "Not configured"


@dataclass(frozen=True)
class AppForm:
    """An app as entered. For the secrets, None keeps the stored value and "" removes it."""

    provider: str = "stripe"
    name: str = ""
    is_live: bool = False
    is_active: bool = True
    is_default: bool = False
    public_key: str | None = None
    secret_key: str | None = None
    signing_secret: str | None = None
    webhook_id: str | None = None
    default_currency: str = "usd"
    suspend_on_refund: bool = True


@dataclass(frozen=True)
class AppView:
    """What the dashboard, the API and the CLI show of an app (no secret)."""

    app: PaymentApp
    status: AppStatus
    has_secret: bool
    has_signing_secret: bool


def _invalid(message: str) -> BadRequest:
    return BadRequest("invalid_payment_app", f"Invalid payment app: {message}")


def _associated_data(app: PaymentApp, field: str) -> bytes:
    return f"exisone-payment-app:{app.tenant_id}:{app.id}:{field}".encode()


def _decrypt(master_key: MasterKey, app: PaymentApp, field: str) -> str | None:
    nonce = getattr(app, f"{field}_nonce")
    ciphertext = getattr(app, f"{field}_ciphertext")
    if nonce is None or ciphertext is None:
        return None
    try:
        return master_key.decrypt(nonce, ciphertext, _associated_data(app, field)).decode()
    except InvalidTag:
        return None


def _encrypt(master_key: MasterKey, app: PaymentApp, field: str, value: str | None) -> None:
    nonce: bytes | None = None
    ciphertext: bytes | None = None
    if value:
        nonce, ciphertext = master_key.encrypt(value.encode(), _associated_data(app, field))
    setattr(app, f"{field}_nonce", nonce)
    setattr(app, f"{field}_ciphertext", ciphertext)


def app_keys(master_key: MasterKey, app: PaymentApp) -> AppKeys:
    """The app's keys in clear (a secret that does not decrypt under ``master_key``: None)."""
    return AppKeys(
        app_id=app.id,
        tenant_id=app.tenant_id,
        is_live=app.is_live,
        signing_secret=_decrypt(master_key, app, "signing_secret"),
        secret_key=_decrypt(master_key, app, "secret_key"),
        public_key=app.public_key,
        webhook_id=app.webhook_id,
    )


def app_view(master_key: MasterKey, app: PaymentApp) -> AppView:
    keys = app_keys(master_key, app)
    has_secret, has_signing = keys.secret_key is not None, keys.signing_secret is not None
    if app.provider == "stripe":
        status = (
            AppStatus.NOT_CONFIGURED
            if not has_secret
            else AppStatus.PARTIAL
            if not has_signing
            else AppStatus.READY
        )
    elif app.provider == "paypal":
        api = has_secret and bool(app.public_key)
        status = (
            AppStatus.NOT_CONFIGURED
            if not app.webhook_id
            else AppStatus.PARTIAL
            if not api
            else AppStatus.READY
        )
    elif not has_signing:
        status = AppStatus.NOT_CONFIGURED
    elif app.provider == "paddle" and not has_secret:
        status = AppStatus.PARTIAL
    else:
        status = AppStatus.READY
    return AppView(app, status, has_secret, has_signing)


def _check(form: AppForm) -> None:
    if form.provider not in PROVIDERS:
        raise _invalid(f"provider must be one of {', '.join(PROVIDERS)}.")
    if not form.name.strip() or len(form.name.strip()) > 100:
        raise _invalid("the name must be 1 to 100 characters.")
    if not _CURRENCY.match(form.default_currency.strip().lower()):
        raise _invalid("the default currency is a three-letter code such as usd.")
    for label, value, limit in (
        ("public key", form.public_key, 200),
        ("secret key", form.secret_key, 500),
        ("signing secret", form.signing_secret, 500),
        ("webhook id", form.webhook_id, 100),
    ):
        if value is not None and (len(value.strip()) > limit or "\x00" in value):
            raise _invalid(f"the {label} is over {limit} characters.")
    if form.provider == "stripe":
        prefixes = {
            "secret key": (form.secret_key, ("sk_", "rk_")),
            "signing secret": (form.signing_secret, ("whsec_",)),
            "publishable key": (form.public_key, ("pk_",)),
        }
        for label, (value, starts) in prefixes.items():
            if value and not value.strip().startswith(starts):
                raise _invalid(f"a Stripe {label} starts with {' or '.join(starts)}.")
        mode = "live" if form.is_live else "test"
        for value in (form.secret_key, form.public_key):
            if value and value.strip()[3:].split("_", 1)[0] not in (mode, ""):
                raise _invalid(f"the keys must be {mode} keys (the app is marked {mode}).")


async def get_app(session: AsyncSession, tenant_id: int, app_id: int) -> PaymentApp:
    app = await session.scalar(
        select(PaymentApp).where(PaymentApp.tenant_id == tenant_id, PaymentApp.id == app_id)
    )
    if app is None:
        raise NotFound("payment_app_not_found", f"No payment app with id {app_id}.")
    return app


async def list_apps(
    session: AsyncSession, tenant_id: int, provider: str | None = None
) -> list[PaymentApp]:
    statement = select(PaymentApp).where(PaymentApp.tenant_id == tenant_id)
    if provider:
        statement = statement.where(PaymentApp.provider == provider)
    return list(await session.scalars(statement.order_by(PaymentApp.seq, PaymentApp.id)))


async def save_app(
    session: AsyncSession,
    tenant_id: int,
    master_key: MasterKey,
    form: AppForm,
    *,
    app_id: int | None = None,
) -> PaymentApp:
    """Add an app (``app_id`` None) or change one; 400 ``invalid_payment_app``, 404
    ``payment_app_not_found``. The tenant's first app of a provider is its default."""
    _check(form)
    if app_id is None:
        app = PaymentApp(tenant_id=tenant_id, provider=form.provider, name=form.name.strip())
        session.add(app)
        await session.flush()  # the id is part of what the secrets are bound to
        others = await list_apps(session, tenant_id, form.provider)
        is_default = form.is_default or len(others) == 1
    else:
        app = await get_app(session, tenant_id, app_id)
        if app.provider != form.provider:
            raise _invalid("an app's provider cannot change.")
        is_default = form.is_default or app.is_default
    app.name = form.name.strip()
    app.is_live = form.is_live
    app.is_active = form.is_active
    app.default_currency = form.default_currency.strip().lower()
    app.suspend_on_refund = form.suspend_on_refund
    if form.public_key is not None:
        app.public_key = form.public_key.strip() or None
    if form.webhook_id is not None:
        app.webhook_id = form.webhook_id.strip() or None
    for field in _SECRET_FIELDS:
        value = getattr(form, field)
        if value is not None:
            _encrypt(master_key, app, field, value.strip())
    if app.secret_key_ciphertext or app.signing_secret_ciphertext:
        app.master_key_id = master_key.key_id
    app.updated_at = utc_now()
    if is_default:
        await session.execute(
            update(PaymentApp)
            .where(
                PaymentApp.tenant_id == tenant_id,
                PaymentApp.provider == app.provider,
                PaymentApp.id != app.id,
            )
            .values(is_default=False)
        )
    app.is_default = is_default
    await session.flush()
    return app


async def delete_app(session: AsyncSession, tenant_id: int, app_id: int) -> None:
    """Remove an app (its events stay, without it); 404 ``payment_app_not_found``."""
    app = await get_app(session, tenant_id, app_id)
    await session.delete(app)
    await session.flush()


async def reencrypt_app_secrets(session: AsyncSession, old: MasterKey, new: MasterKey) -> int:
    """Re-encrypt every app's secrets stored under ``old`` with ``new`` (master-key rotation,
    in the caller's transaction); returns how many apps were re-encrypted."""
    apps = await session.scalars(select(PaymentApp).where(PaymentApp.master_key_id == old.key_id))
    count = 0
    for app in apps:
        for field in _SECRET_FIELDS:
            if getattr(app, f"{field}_ciphertext") is None:
                continue
            value = _decrypt(old, app, field)
            if value is None:
                raise ValueError(f"payment app {app.id}: its {field} does not decrypt")
            _encrypt(new, app, field, value)
        app.master_key_id = new.key_id
        count += 1
    await session.flush()
    return count
