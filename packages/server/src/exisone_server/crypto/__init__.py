"""Tenant RSA keys (offline-code signing), encrypted at rest under the master key."""
