"""The Bulk Queries API: up to 100 items per call.

POST /api/license/validate-bulk (``verify``), /bulk-info, /bulk-by-email, /bulk-by-hardware
(``generate``).
"""
