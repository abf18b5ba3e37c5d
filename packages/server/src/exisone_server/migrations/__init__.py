"""Alembic migrations shipped inside the package (script location ``exisone_server:migrations``)."""
