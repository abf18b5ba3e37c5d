"""Typed names for the app's dependencies; use them as handler parameter annotations.

``database: DatabaseDep``, ``settings: SettingsDep``, ``master_key: MasterKeyDep``,
``principal: PrincipalDep`` (authenticates; the route's ``opt=requires(...)`` sets the
permission), ``client_ip: ClientIpDep``. The parameter name must be the one shown.
"""

from __future__ import annotations

from litestar.di import NamedDependency

from .auth.principal import Principal
from .config import Settings
from .crypto.master_key import MasterKey
from .db import Database

__all__ = ["ClientIpDep", "DatabaseDep", "MasterKeyDep", "PrincipalDep", "SettingsDep"]

DatabaseDep = NamedDependency[Database]
SettingsDep = NamedDependency[Settings]
MasterKeyDep = NamedDependency[MasterKey]
PrincipalDep = NamedDependency[Principal]
ClientIpDep = NamedDependency[str | None]
