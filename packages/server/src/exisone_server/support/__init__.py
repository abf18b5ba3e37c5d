"""Support tickets sent by end users through the SDKs."""
