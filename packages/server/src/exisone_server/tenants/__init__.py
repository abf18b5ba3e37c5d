"""Tenants (publishers)."""
