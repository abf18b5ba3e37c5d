"""Plans: GET/POST /api/plan (upsert), GET/DELETE /api/plan/{id}."""
