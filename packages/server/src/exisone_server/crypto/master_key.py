"""The master key: AES-256-GCM key that encrypts the tenants' private keys at rest.

From ``EXISONE_MASTER_KEY`` (base64 of 32 bytes), or generated once into
``<data dir>/master.key`` (mode 0600). Its id (a hash prefix, not the key) is stored with every
encrypted private key, so a later master-key rotation knows which rows to re-encrypt.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..config import Settings
from ..storage import create_private_dir

__all__ = ["MasterKey", "load_master_key"]

logger = logging.getLogger("exisone_server")

MASTER_KEY_FILE = "master.key"


@dataclass(frozen=True, repr=False)
class MasterKey:
    """A 32-byte AES-GCM key and its public id."""

    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise ValueError("the master key must be 32 bytes (base64 of 32 random bytes)")

    def __repr__(self) -> str:
        return f"MasterKey(id={self.key_id!r})"

    @functools.cached_property
    def key_id(self) -> str:
        """First 16 hex digits of SHA-256 over a label and the key: safe to store and log."""
        return hashlib.sha256(b"exisone-master-key-id:" + self.key).hexdigest()[:16]

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> tuple[bytes, bytes]:
        """``(nonce, ciphertext)``; ``associated_data`` binds the ciphertext to its owner."""
        nonce = secrets.token_bytes(12)
        return nonce, AESGCM(self.key).encrypt(nonce, plaintext, associated_data)

    def decrypt(self, nonce: bytes, ciphertext: bytes, associated_data: bytes) -> bytes:
        return AESGCM(self.key).decrypt(nonce, ciphertext, associated_data)

    @classmethod
    def from_base64(cls, text: str) -> MasterKey:
        try:
            key = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("EXISONE_MASTER_KEY is not valid base64") from None
        return cls(key)

    @staticmethod
    def generate_base64() -> str:
        return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def load_master_key(settings: Settings) -> MasterKey:
    """The configured master key; generates ``<data dir>/master.key`` on first use if unset."""
    if settings.master_key:
        return MasterKey.from_base64(settings.master_key)
    path = settings.data_dir / MASTER_KEY_FILE
    if not path.exists():
        _create_key_file(path)
    return MasterKey.from_base64(path.read_text(encoding="ascii"))


def _create_key_file(path: Path) -> None:
    create_private_dir(path.parent)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process made it first; use theirs
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(MasterKey.generate_base64() + "\n")
    logger.warning(
        "EXISONE_MASTER_KEY is not set: generated a master key into %s (mode 0600). "
        "Back it up with the database; without it the tenants' private keys are unreadable.",
        path,
    )
