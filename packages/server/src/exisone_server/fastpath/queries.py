"""The SQL of the fast path, in the driver's placeholder style (``%s`` for psycopg, ``?`` for
sqlite3). Each statement mirrors a SQLAlchemy statement of the general path."""

from __future__ import annotations

__all__ = [
    "ONLINE_KEY",
    "TOKEN",
    "TOKEN_AND_ONLINE_KEY",
    "TOKEN_AND_ONLINE_KEYS",
    "TOKEN_AND_ONLINE_KEY_SQLITE",
    "for_sqlite",
]

#: auth.dependencies.authenticate: the token by its public id.
TOKEN = """
SELECT id, tenant_id, name, secret_hash, permissions, expires_at, revoked
FROM access_tokens WHERE public_id = %s
"""

#: licenses.validate._validate_online_key: license, product, "bound to this device", features
#: (one row per feature, or one row with a NULL feature).
ONLINE_KEY = """
SELECT l.status, l.expires_at, p.name, p.version, p.minimum_required_version,
       p.enforce_version_check, p.is_active,
       EXISTS (SELECT 1 FROM activations a
               WHERE a.license_id = l.id AND a.hardware_id = %s AND a.deactivated_at IS NULL),
       f.name
FROM licenses l
JOIN products p ON p.id = l.product_id
LEFT OUTER JOIN license_features lf ON lf.license_id = l.id
LEFT OUTER JOIN features f ON f.id = lf.feature_id
WHERE l.tenant_id = %s AND l.activation_key = %s
ORDER BY f.name
"""

#: PostgreSQL: a key's rows in a token's tenant, as a LATERAL subquery (``k``) of the two
#: statements below; HARDWARE_ID and ACTIVATION_KEY name a parameter or a column.
_KEY_ROWS_LATERAL = """
LEFT JOIN LATERAL (
    SELECT l.status, l.expires_at, p.name AS product_name, p.version, p.minimum_required_version,
           p.enforce_version_check, p.is_active,
           EXISTS (SELECT 1 FROM activations a
                   WHERE a.license_id = l.id AND a.hardware_id = HARDWARE_ID
                     AND a.deactivated_at IS NULL) AS bound,
           f.name AS feature
    FROM licenses l
    JOIN products p ON p.id = l.product_id
    LEFT OUTER JOIN license_features lf ON lf.license_id = l.id
    LEFT OUTER JOIN features f ON f.id = lf.feature_id
    WHERE l.tenant_id = t.tenant_id AND l.activation_key = ACTIVATION_KEY
) k ON TRUE
"""


def _key_rows_lateral(hardware_id: str, activation_key: str) -> str:
    return _KEY_ROWS_LATERAL.replace("HARDWARE_ID", hardware_id).replace(
        "ACTIVATION_KEY", activation_key
    )


#: PostgreSQL: TOKEN and ONLINE_KEY in one round trip: the token's row, joined to the key's rows
#: in the token's tenant (NULL columns when the key is unknown there; no row: unknown token).
#: The license is read before the token's secret is checked, but nothing of it leaves the
#: server unless the token then checks.
TOKEN_AND_ONLINE_KEY = f"""
SELECT t.id, t.tenant_id, t.name, t.secret_hash, t.permissions, t.expires_at, t.revoked,
       k.status, k.expires_at, k.product_name, k.version, k.minimum_required_version,
       k.enforce_version_check, k.is_active, k.bound, k.feature
FROM access_tokens t
{_key_rows_lateral("%s", "%s")}
WHERE t.public_id = %s
ORDER BY k.feature
"""

#: PostgreSQL: TOKEN_AND_ONLINE_KEY for several validations in one round trip. The parameters
#: are three arrays (hardware IDs, activation keys, token public ids), one element per
#: validation; each row starts with the validation's position (from 1), rows in order of
#: position, then feature. A validation whose token is unknown has no row, as alone.
TOKEN_AND_ONLINE_KEYS = f"""
SELECT r.n, t.id, t.tenant_id, t.name, t.secret_hash, t.permissions, t.expires_at, t.revoked,
       k.status, k.expires_at, k.product_name, k.version, k.minimum_required_version,
       k.enforce_version_check, k.is_active, k.bound, k.feature
FROM unnest(%s::text[], %s::text[], %s::text[])
         WITH ORDINALITY AS r(hardware_id, activation_key, public_id, n)
JOIN LATERAL (
    SELECT id, tenant_id, name, secret_hash, permissions, expires_at, revoked
    FROM access_tokens WHERE public_id = r.public_id
    LIMIT 1  -- public_id is unique; the LIMIT keeps it an index lookup per element (not
             -- flattened into a hash join over every token)
) t ON TRUE
{_key_rows_lateral("r.hardware_id", "r.activation_key")}
ORDER BY r.n, k.feature
"""

#: SQLite: the same in one statement, with plain LEFT JOINs (SQLite has no LATERAL); the
#: parameters in the same order. One statement instead of two: ~25 % less time in SQLite.
TOKEN_AND_ONLINE_KEY_SQLITE = """
SELECT t.id, t.tenant_id, t.name, t.secret_hash, t.permissions, t.expires_at, t.revoked,
       l.status, l.expires_at, p.name, p.version, p.minimum_required_version,
       p.enforce_version_check, p.is_active,
       EXISTS (SELECT 1 FROM activations a
               WHERE a.license_id = l.id AND a.hardware_id = ? AND a.deactivated_at IS NULL),
       f.name
FROM access_tokens t
LEFT JOIN licenses l ON l.tenant_id = t.tenant_id AND l.activation_key = ?
LEFT JOIN products p ON p.id = l.product_id
LEFT JOIN license_features lf ON lf.license_id = l.id
LEFT JOIN features f ON f.id = lf.feature_id
WHERE t.public_id = ?
ORDER BY f.name
"""


def for_sqlite(statement: str) -> str:
    """The statement with sqlite3's ``?`` placeholders."""
    return statement.replace("%s", "?")
