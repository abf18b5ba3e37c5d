"""The SQL of the fast path, in psycopg's ``%s`` placeholder style (:func:`for_sqlite` gives
sqlite3's ``?``).

What a validation of an online key reads is written once, :data:`KEY_ROWS`: the license, its
product and whether the device holds a seat, one row per feature (or one with a NULL feature).
These are the facts :func:`exisone_server.licenses.rules.validation_refusal` decides on. The
statements below only place it: alone in a tenant, joined to the request's token, or (on
PostgreSQL, which has LATERAL) for many validations at once.
"""

from __future__ import annotations

__all__ = [
    "KEY_ROWS",
    "SQLITE_CHANGE_MARK",
    "TOKEN",
    "TOKEN_AND_ONLINE_KEY",
    "TOKEN_AND_ONLINE_KEYS",
    "for_sqlite",
]

#: The request's access token by its public id (auth.dependencies.authenticate).
TOKEN = """
SELECT id, tenant_id, name, secret_hash, permissions, expires_at, revoked
FROM access_tokens WHERE public_id = %s
"""

_TOKEN_COLUMNS = "t.id, t.tenant_id, t.name, t.secret_hash, t.permissions, t.expires_at, t.revoked"

#: The facts of licenses.rules.KeyFacts, "bound to this device", the plan's grace and check-in
#: days, whether the license is floating and when the device's lease of it runs out, and a
#: feature name: the columns of fastpath.reader.OnlineKeyRow, in its order. HARDWARE_ID names
#: the device (a parameter or a column, used twice); the FROM clause must name the license
#: ``l``.
_KEY_COLUMNS = """
       l.status, l.expires_at, p.name, p.version, p.minimum_required_version,
       p.enforce_version_check, p.is_active,
       EXISTS (SELECT 1 FROM activations a
               WHERE a.license_id = l.id AND a.hardware_id = HARDWARE_ID
                 AND a.deactivated_at IS NULL),
       pl.grace_days, pl.check_in_days, l.is_floating,
       (SELECT max(le.expires_at) FROM leases le
        WHERE le.license_id = l.id AND le.hardware_id = HARDWARE_ID AND le.ended_at IS NULL),
       f.name"""

_KEY_JOINS = """
LEFT JOIN products p ON p.id = l.product_id
LEFT JOIN plans pl ON pl.id = l.plan_id
LEFT JOIN license_features lf ON lf.license_id = l.id
LEFT JOIN features f ON f.id = lf.feature_id"""


def _key_columns(hardware_id: str) -> str:
    return _KEY_COLUMNS.replace("HARDWARE_ID", hardware_id)


#: The rows of a key in a tenant; parameters: hardware ID (twice), tenant id, activation key.
KEY_ROWS = f"""
SELECT {_key_columns("%s")}
FROM licenses l {_KEY_JOINS}
WHERE l.tenant_id = %s AND l.activation_key = %s
ORDER BY f.name
"""

#: The token's row joined to the key's rows in the token's tenant (NULL key columns when the
#: key is unknown there; no row: unknown token); parameters: hardware ID (twice), activation
#: key, token public id. The license is read before the token's secret is checked, but nothing of it
#: leaves the server unless the token then checks.
TOKEN_AND_ONLINE_KEY = f"""
SELECT {_TOKEN_COLUMNS}, {_key_columns("%s")}
FROM access_tokens t
LEFT JOIN licenses l ON l.tenant_id = t.tenant_id AND l.activation_key = %s {_KEY_JOINS}
WHERE t.public_id = %s
ORDER BY f.name
"""

#: PostgreSQL: TOKEN_AND_ONLINE_KEY for several validations in one round trip. The parameters
#: are three arrays (hardware IDs, activation keys, token public ids), one element per
#: validation; each row starts with the validation's position (from 1), rows in order of
#: position, then feature. A validation whose token is unknown has no row, as alone.
TOKEN_AND_ONLINE_KEYS = f"""
SELECT r.n, {_TOKEN_COLUMNS}, k.*
FROM unnest(%s::text[], %s::text[], %s::text[])
         WITH ORDINALITY AS r(hardware_id, activation_key, public_id, n)
JOIN LATERAL (
    SELECT id, tenant_id, name, secret_hash, permissions, expires_at, revoked
    FROM access_tokens WHERE public_id = r.public_id
    LIMIT 1  -- public_id is unique; the LIMIT keeps it an index lookup per element (not
             -- flattened into a hash join over every token)
) t ON TRUE
LEFT JOIN LATERAL (
    SELECT {_key_columns("r.hardware_id")}, f.name AS feature_order
    FROM licenses l {_KEY_JOINS}
    WHERE l.tenant_id = t.tenant_id AND l.activation_key = r.activation_key
) k ON TRUE
ORDER BY r.n, k.feature_order
"""


def for_sqlite(statement: str) -> str:
    """The statement with sqlite3's ``?`` placeholders."""
    return statement.replace("%s", "?")


#: SQLite: the change mark (fastpath.row_cache), a number that changes whenever another
#: connection commits (the reader maps the WAL-index header instead when it can).
SQLITE_CHANGE_MARK = "PRAGMA data_version"
