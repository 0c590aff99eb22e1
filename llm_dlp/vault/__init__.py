"""Placeholder → original value, kept so the model's answer can carry the real value again.

Values are sealed with AES-GCM before they reach any store, so a memory dump of a store, its
file on disk or a shared Redis hold only ciphertext; the key is derived from the deployment key
kept with the CA, which every proxy instance sharing a vault must share anyway (it makes the
placeholders). Each entry is bound to its scope (the tenant and requester, see
``llm_dlp.restore.session``) and placeholder as associated data: a sealed value copied under
another scope's key does not open. Entries expire after a TTL, refreshed
each time a request redacts the value again.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Iterable, Mapping

from llm_dlp.vault.sealing import Sealer, UnsealError
from llm_dlp.vault.stores import MemoryStore, RedisStore, SqliteStore, VaultStore

log = logging.getLogger("llm_dlp")

DEFAULT_TTL_SECONDS = 24 * 3600
PURPOSE = b"llm-dlp vault v1"


@dataclass(frozen=True, slots=True)
class VaultEntry:
    kind: str  # the finding kind (secret, pii, ...): the policy restores per kind
    value: str


class Vault:
    def __init__(self, store: VaultStore, master_key: bytes, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        if ttl_seconds <= 0:
            raise ValueError("vault TTL must be positive")
        self.store = store
        self.ttl_seconds = ttl_seconds
        self._sealer = Sealer(master_key, PURPOSE)

    def put_many(self, scope: str, entries: Mapping[str, VaultEntry]) -> None:
        sealed = {}
        for token, entry in entries.items():
            key = _store_key(scope, token)
            plaintext = json.dumps([entry.kind, entry.value], ensure_ascii=False).encode("utf-8", "surrogatepass")
            sealed[key] = self._sealer.seal(plaintext, key.encode("utf-8"))
        if sealed:
            self.store.put_many(sealed, self.ttl_seconds)

    def get_many(self, scope: str, placeholders: Iterable[str]) -> dict[str, VaultEntry]:
        keys = {_store_key(scope, token): token for token in placeholders}
        if not keys:
            return {}
        found = {}
        for key, blob in self.store.get_many(list(keys)).items():
            entry = self._open(key, blob)
            if entry is not None:
                found[keys[key]] = entry
        return found

    def close(self) -> None:
        self.store.close()

    def _open(self, key: str, blob: bytes) -> VaultEntry | None:
        try:
            plaintext = self._sealer.open(blob, key.encode("utf-8"))
        except UnsealError as exc:
            # Another deployment key, or a tampered entry: never restore what we cannot verify.
            log.warning("vault entry %s %s; ignored", key, exc)
            return None
        kind, value = json.loads(plaintext.decode("utf-8", "surrogatepass"))
        return VaultEntry(kind, value)


def open_vault(spec: str, master_key: bytes, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> Vault:
    """``memory`` (this process only), ``file:PATH`` (SQLite on local disk) or a ``redis://`` URL."""
    if spec == "memory":
        store: VaultStore = MemoryStore()
    elif spec.startswith("file:"):
        store = SqliteStore(spec.removeprefix("file:"))
    elif spec.startswith(("redis://", "rediss://", "unix://")):
        store = RedisStore(spec)
    else:
        raise ValueError(f"unknown vault {spec!r}: use memory, file:PATH or redis://HOST:PORT/DB")
    return Vault(store, master_key, ttl_seconds)


def _store_key(scope: str, token: str) -> str:
    return f"llm-dlp:vault:{scope}:{token}"


__all__ = ["DEFAULT_TTL_SECONDS", "MemoryStore", "RedisStore", "SqliteStore", "Vault", "VaultEntry", "VaultStore", "open_vault"]
