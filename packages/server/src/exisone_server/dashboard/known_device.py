"""The known-device cookie: a browser that logged in to an account before is not paced.

After a successful login the browser gets ``exisone_device`` =
``<user id>.<expiry, Unix seconds>.<HMAC-SHA256>``, valid :data:`KNOWN_DEVICE_LIFETIME`. The
HMAC key is derived from the master key; the MAC covers the user id, the expiry and the user's
current password hash, so a new password (``user password``, a reset) makes every earlier
cookie worthless. Nothing is stored: the cookie proves "this browser knew the password".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import timedelta

from ..crypto.master_key import MasterKey
from ..models import DashboardUser

__all__ = ["KNOWN_DEVICE_COOKIE", "KNOWN_DEVICE_LIFETIME", "device_of", "new_device_cookie"]

KNOWN_DEVICE_COOKIE = "exisone_device"
KNOWN_DEVICE_LIFETIME = timedelta(days=90)


def _mac(master_key: MasterKey, user: DashboardUser, expires: int) -> str:
    key = hmac.new(master_key.key, b"exisone-dashboard-known-device", hashlib.sha256).digest()
    message = f"{user.id}.{expires}.{user.password_hash}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def new_device_cookie(
    master_key: MasterKey, user: DashboardUser, *, now: float | None = None
) -> str:
    """A cookie value that marks this browser as a known device of ``user``."""
    expires = int(time.time() if now is None else now) + int(KNOWN_DEVICE_LIFETIME.total_seconds())
    return f"{user.id}.{expires}.{_mac(master_key, user, expires)}"


def device_of(
    master_key: MasterKey,
    user: DashboardUser | None,
    cookie: str,
    *,
    now: float | None = None,
) -> str | None:
    """The device id (a MAC prefix) when ``cookie`` is a live known-device cookie of ``user``."""
    if user is None or not cookie or len(cookie) > 200:
        return None
    user_id, _, rest = cookie.partition(".")
    expires_text, _, mac = rest.partition(".")
    if user_id != str(user.id) or not expires_text.isdigit():
        return None
    expires = int(expires_text)
    if expires <= (time.time() if now is None else now):
        return None
    if not hmac.compare_digest(mac.encode(), _mac(master_key, user, expires).encode()):
        return None
    return f"{user.id}:{mac[:16]}"
