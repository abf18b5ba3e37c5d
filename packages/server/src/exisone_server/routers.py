"""The API's domain routers. A new domain adds its router here (one import, one list entry).

Each domain package exposes ``router = Router(path="/api", route_handlers=[...])`` (or a path of
its own) in its ``endpoints.py``; :func:`exisone_server.app.create_app` mounts every router
returned below. Handlers get these dependencies by parameter name: ``database`` (db.Database),
``settings`` (config.Settings), ``master_key`` (crypto.master_key.MasterKey), ``principal``
(auth.Principal: authenticates the token; add ``opt=requires(Permission.X)`` to the route),
``client_ip`` (str | None).
"""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

__all__ = ["domain_routers"]


def domain_routers() -> list[ControllerRouterHandler]:
    """Every domain router of the API, in mounting order."""
    from .api_keys.endpoints import router as api_keys_router
    from .audit.endpoints import router as audit_router
    from .bulk.endpoints import router as bulk_router
    from .crypto.endpoints import router as crypto_router
    from .dashboard import dashboard_routers
    from .health import router as health_router
    from .licenses.encrypted import router as encrypted_router
    from .licenses.endpoints import router as licenses_router
    from .licenses.lease_endpoints import router as leases_router
    from .mail.endpoints import router as mail_router
    from .payments.endpoints import router as payments_router
    from .plans.endpoints import router as plans_router
    from .portal import portal_routers
    from .products.endpoints import router as products_router
    from .publisher.endpoints import router as publisher_router
    from .publisher.leases import router as publisher_leases_router
    from .support.endpoints import router as support_router
    from .webhooks.endpoints import router as webhooks_router

    return [
        licenses_router,
        leases_router,
        support_router,
        crypto_router,
        health_router,
        products_router,
        plans_router,
        publisher_router,
        publisher_leases_router,
        bulk_router,
        audit_router,
        webhooks_router,
        mail_router,
        payments_router,
        api_keys_router,
        encrypted_router,
        *dashboard_routers(),
        *portal_routers(),
    ]
