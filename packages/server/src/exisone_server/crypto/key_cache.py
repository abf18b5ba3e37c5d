"""Decrypted tenant private keys, kept per process (loading an RSA key costs ~150 ms).

Loading a private key makes cryptography check the key's consistency, which costs about 100×
an RSA-2048 signature; an offline code must not pay it on every issue. The cache holds key
objects only in this process's memory (never written, never logged: their repr shows no
material) and is keyed by everything that decryption depends on, so a rotated or re-encrypted
key is decrypted afresh.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from cryptography.hazmat.primitives.asymmetric import rsa

from ..models import CryptoKey
from .master_key import MasterKey
from .service import PrivateKey, as_rsa, load_private_key

__all__ = ["cached_private_key", "cached_signing_key", "clear_signing_key_cache"]

#: Tenants' keys kept at most (least recently used ones are dropped).
MAX_CACHED_KEYS = 256

_Entry = tuple[str, int, int, str, bytes, bytes]
_cache: OrderedDict[_Entry, PrivateKey] = OrderedDict()
_lock = threading.Lock()


def cached_private_key(key: CryptoKey, master_key: MasterKey) -> PrivateKey:
    """:func:`load_private_key`, decrypting each stored key once per process."""
    entry: _Entry = (
        master_key.key_id,
        key.id,
        key.tenant_id,
        key.fingerprint,
        bytes(key.nonce),
        bytes(key.private_key_encrypted),
    )
    with _lock:
        private_key = _cache.get(entry)
        if private_key is not None:
            _cache.move_to_end(entry)
            return private_key
    private_key = load_private_key(key, master_key)
    with _lock:
        _cache[entry] = private_key
        while len(_cache) > MAX_CACHED_KEYS:
            _cache.popitem(last=False)
    return private_key


def cached_signing_key(key: CryptoKey, master_key: MasterKey) -> rsa.RSAPrivateKey:
    """:func:`cached_private_key` of a key that must be RSA (the protocol's formats)."""
    return as_rsa(key, cached_private_key(key, master_key))


def clear_signing_key_cache() -> None:
    """Forget every decrypted key (tests; a process that wants them gone from memory)."""
    with _lock:
        _cache.clear()
