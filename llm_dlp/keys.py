"""Key material kept with the CA in the confdir: the HMAC key for value hashes and placeholders.

Audit lines and placeholders identify a value by a keyed hash, so the log never holds the value
and nobody without the key can confirm a guess against it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

KEY_FILE = "llm-dlp-hmac.key"


@dataclass(frozen=True, slots=True)
class ValueHasher:
    key: bytes

    def digest(self, value: str) -> str:
        return hmac.new(self.key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    def fingerprint(self, value: str) -> str:
        """The form written to audit logs and policy allowlists."""
        return "hmac-sha256:" + self.digest(value)


def ensure_key_file(path: Path) -> None:
    """Write 32 random bytes (hex) to ``path`` with mode 0600 unless it exists."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two processes starting at once must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")


def load_or_create_hasher(confdir: Path) -> ValueHasher:
    path = Path(confdir) / KEY_FILE
    ensure_key_file(path)
    key = bytes.fromhex(path.read_text().strip())
    if len(key) < 16:
        raise ValueError(f"{path}: key is too short; delete it to generate a new one")
    return ValueHasher(key)


def mask_preview(value: str) -> str:
    """Enough to recognise the kind of value, never enough to use it: 4 leading characters."""
    shown = value[:4] if len(value) >= 12 else ""
    return f"{shown}…({len(value)} chars)"
