"""The publisher's license API: generate keys, list and inspect licenses, change them.

Endpoints (docs/api.md): POST /api/activationkey/generate, GET /api/license[/],
GET/PATCH /api/license/{key}, POST /api/license/{key}/{revoke,suspend,resume,extend,free-device},
GET /api/license/{key}/history, GET /api/license/device-history/{hardwareId},
POST /api/license/offline-code. Shared input checks live in :mod:`publisher.checks`.
"""
