"""Access tokens, permissions and the authenticated caller (:class:`Principal`).

Handlers receive ``principal: Principal`` (the ``principal`` dependency installed by the app) and
declare what they need with ``opt=requires(Permission.VERIFY)`` on the route decorator.
"""

from .dependencies import provide_principal
from .permissions import Permission, requires, requires_any
from .principal import Principal
from .tokens import IssuedToken, create_access_token, format_token, hash_secret, parse_token

__all__ = [
    "IssuedToken",
    "Permission",
    "Principal",
    "create_access_token",
    "format_token",
    "hash_secret",
    "parse_token",
    "provide_principal",
    "requires",
    "requires_any",
]
