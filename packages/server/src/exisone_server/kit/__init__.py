"""Helpers without domain knowledge: time, versions, hardware IDs, key and token formats."""
