"""AES-GCM sealing under a key derived from the deployment key, one key per purpose.

The vault seals placeholder values with it; the memory of known values (``llm_dlp.known_values``)
seals the values it keeps in a store with a purpose of its own, so neither opens the other's
entries even when both live in one Redis. Every proxy instance sharing the confdir's keys derives
the same keys and opens its peers' entries. The associated data binds an entry to where it was
put (a scope, a tenant): a sealed blob copied elsewhere does not open.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"\x01"
_NONCE_BYTES = 12
_TAG_BYTES = 16


class UnsealError(ValueError):
    """A blob of another format, sealed under another key or purpose, or tampered with."""


class Sealer:
    def __init__(self, master_key: bytes, purpose: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master_key)
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, associated: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, associated)

    def open(self, blob: bytes, associated: bytes) -> bytes:
        if blob[:1] != _VERSION or len(blob) < 1 + _NONCE_BYTES + _TAG_BYTES:
            raise UnsealError("has an unknown format")
        nonce, ciphertext = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, associated)
        except InvalidTag:
            raise UnsealError("does not open with this proxy's key") from None
