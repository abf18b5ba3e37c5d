"""Encrypted validation (``POST /api/license/validate-encrypted``): the sealed request and the
sealed answer, byte for byte. docs/encrypted-validation.md describes the scheme; this module is
its one implementation (the client seals requests and opens answers, the server the reverse).

A request payload is one of two shapes, told apart by its length:

* **RSA-only** (ExisOne's shape): exactly ``k`` bytes (``k``: the tenant's modulus in bytes,
  256 for RSA-2048), RSA-OAEP (SHA-256, MGF1-SHA-256, no label) of the validate JSON with the
  tenant's current public key. It carries at most ``k - 66`` bytes (190 for RSA-2048).
* **Envelope v1** (any length of JSON)::

      0x01 | key id (8) | RSA-OAEP(K) (k) | nonce (12) | AES-256-GCM(K, nonce, JSON, aad)

  with ``K`` 32 fresh random bytes, the key id the first 8 bytes of SHA-256 of the public
  key's DER SubjectPublicKeyInfo (any key of the tenant, current or retired) and ``aad`` =
  :data:`REQUEST_LABEL` + the first 9 bytes (version and key id).

The answer to a request that gave a key (``K`` of an envelope, or ``responseKey`` in the JSON
of an RSA-only request) is sealed with it::

    nonce (12) | AES-256-GCM(K, nonce, answer JSON, aad = ANSWER_LABEL + SHA-256(payload))

where ``payload`` is the request payload's bytes: only the holder of ``K`` can read it, only
the holder of the tenant's private key (who alone could learn ``K``) can have made it, and it
answers that request and no other.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__: list[str] = []

VERSION = 1
KEY_ID_BYTES = 8
SEALED_KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
REQUEST_LABEL = b"exisone validate-encrypted v1 request"
ANSWER_LABEL = b"exisone validate-encrypted v1 answer"
_HEADER_BYTES = 1 + KEY_ID_BYTES


class SealedPayloadError(ValueError):
    """A payload that does not open. Deliberately without detail: every failure is alike."""

    def __init__(self) -> None:
        super().__init__("the payload could not be opened")


class OpenedRequest(NamedTuple):
    """An opened request: its JSON bytes, and the key to seal its answer with (None for an
    RSA-only request, whose JSON may name one as ``responseKey``)."""

    plaintext: bytes
    key: bytes | None


def _oaep() -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def envelope_key_id(public_key: rsa.RSAPublicKey) -> bytes:
    """The 8 bytes that name a public key in an envelope."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).digest()[:KEY_ID_BYTES]


def max_rsa_only_bytes(public_key: rsa.RSAPublicKey) -> int:
    """The longest JSON an RSA-only request can carry with this key (190 for RSA-2048)."""
    return public_key.key_size // 8 - 2 * hashes.SHA256.digest_size - 2


def seal_request(
    public_key: rsa.RSAPublicKey,
    plaintext: bytes,
    *,
    key: bytes | None = None,
    nonce: bytes | None = None,
) -> tuple[bytes, bytes]:
    """``(payload, K)``: an envelope v1 of ``plaintext`` for ``public_key``. ``key`` and
    ``nonce`` are fresh random bytes unless given (test vectors)."""
    key = os.urandom(SEALED_KEY_BYTES) if key is None else key
    nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
    if len(key) != SEALED_KEY_BYTES or len(nonce) != NONCE_BYTES:
        raise ValueError("the key must be 32 bytes and the nonce 12")
    header = bytes([VERSION]) + envelope_key_id(public_key)
    wrapped = public_key.encrypt(key, _oaep())
    sealed = AESGCM(key).encrypt(nonce, plaintext, REQUEST_LABEL + header)
    return header + wrapped + nonce + sealed, key


def open_request(
    payload: bytes,
    current: rsa.RSAPrivateKey,
    key_named: Callable[[bytes], rsa.RSAPrivateKey | None],
) -> OpenedRequest:
    """Open a request payload: RSA-only with ``current``, or an envelope with the private key
    ``key_named(key id)`` returns. Raises :class:`SealedPayloadError` for every failure."""
    try:
        if len(payload) == current.key_size // 8:
            return OpenedRequest(current.decrypt(payload, _oaep()), None)
        if len(payload) < _HEADER_BYTES or payload[0] != VERSION:
            raise SealedPayloadError()
        private_key = key_named(payload[1:_HEADER_BYTES])
        if private_key is None:
            raise SealedPayloadError()
        wrapped_end = _HEADER_BYTES + private_key.key_size // 8
        if len(payload) < wrapped_end + NONCE_BYTES + TAG_BYTES:
            raise SealedPayloadError()
        key = private_key.decrypt(payload[_HEADER_BYTES:wrapped_end], _oaep())
        if len(key) != SEALED_KEY_BYTES:
            raise SealedPayloadError()
        nonce = payload[wrapped_end : wrapped_end + NONCE_BYTES]
        sealed = payload[wrapped_end + NONCE_BYTES :]
        aad = REQUEST_LABEL + payload[:_HEADER_BYTES]
        return OpenedRequest(AESGCM(key).decrypt(nonce, sealed, aad), key)
    except (ValueError, InvalidTag):
        raise SealedPayloadError() from None


def _answer_aad(request_payload: bytes) -> bytes:
    return ANSWER_LABEL + hashlib.sha256(request_payload).digest()


def seal_answer(
    key: bytes, request_payload: bytes, plaintext: bytes, *, nonce: bytes | None = None
) -> bytes:
    """The answer to ``request_payload``, sealed with its key."""
    nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
    return nonce + AESGCM(key).encrypt(nonce, plaintext, _answer_aad(request_payload))


def open_answer(key: bytes, request_payload: bytes, answer: bytes) -> bytes:
    """The JSON of a sealed answer to ``request_payload``; :class:`SealedPayloadError` when it
    does not open (forged, altered, or the answer to another request)."""
    if len(answer) < NONCE_BYTES + TAG_BYTES:
        raise SealedPayloadError()
    try:
        return AESGCM(key).decrypt(
            answer[:NONCE_BYTES], answer[NONCE_BYTES:], _answer_aad(request_payload)
        )
    except InvalidTag:
        raise SealedPayloadError() from None
