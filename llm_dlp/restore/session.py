"""From a forwarded request to the table its answer is restored with.

The model can only answer with placeholders it was shown, so the table holds exactly the
placeholders in the body that went upstream: those this request redacted (known at once, and
written to the vault for later turns and other proxy instances) and older ones the history
still carries verbatim (read back from the vault). A value only goes back to the client it came
from: the vault is keyed by tenant and, within it, by the proxy login (the client address where
there is none), so another user who sends the same placeholder gets it back unrestored.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping

from llm_dlp.policy.model import Policy
from llm_dlp.redaction import PLACEHOLDER_BYTES
from llm_dlp.request import RequestInfo
from llm_dlp.restore.text import RestoreTable
from llm_dlp.vault import DEFAULT_TTL_SECONDS, MemoryStore, Vault, VaultEntry
from llm_dlp.verdict import Redaction

if TYPE_CHECKING:  # the formats import the restorers; this module only carries one
    from llm_dlp.providers.api import ApiFormat


@dataclass(slots=True)
class RestoreSession:
    """What one forwarded request leaves behind for restoring its answer."""

    tenant: str
    scope: str  # the vault key prefix: tenant and requester (see restore_scope)
    allows: Callable[[str, str], bool]
    redacted: dict[str, VaultEntry] = field(default_factory=dict)
    api: "ApiFormat | None" = None  # the request's format: its answer is restored by the same object


class Restorer:
    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    @classmethod
    def in_memory(cls, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> "Restorer":
        """A vault private to this process; its key need not outlive it."""
        return cls(Vault(MemoryStore(), os.urandom(32), ttl_seconds))

    def session(self, policy: Policy, info: RequestInfo, redactions: Mapping[str, Redaction],
                api: "ApiFormat | None" = None) -> RestoreSession:
        """``redactions``: placeholder -> value for what this request's forwarded body redacted
        (``Inspection.redactions``; empty in monitor mode, which forwards the original)."""
        redacted = {token: VaultEntry(r.kind, r.value) for token, r in redactions.items()}
        return RestoreSession(policy.name, restore_scope(policy.name, info), policy.restores, redacted, api)

    def table(self, session: RestoreSession, forwarded_body: bytes) -> RestoreTable:
        """Blocking (the vault may be on disk or across the network): call it off the event loop."""
        if not session.redacted and b"[[" not in forwarded_body:
            return RestoreTable({}, session.allows)  # most requests: nothing redacted, now or before
        self.vault.put_many(session.scope, session.redacted)
        carried = {match.group(0).decode("ascii") for match in PLACEHOLDER_BYTES.finditer(forwarded_body)}
        found = self.vault.get_many(session.scope, carried - session.redacted.keys())
        return RestoreTable(found | session.redacted, session.allows)

    def close(self) -> None:
        self.vault.close()


def restore_scope(tenant: str, info: RequestInfo) -> str:
    """Whose values a request may get back. Every proxy instance computes the same scope for the
    same requester, so a shared vault still restores across instances. The requester is hashed:
    a user name may hold the separator, and the store need not list who uses the proxy."""
    requester = f"user\0{info.user}" if info.user else f"client\0{info.client_address or ''}"
    digest = hashlib.sha256(f"{tenant}\0{requester}".encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{tenant}:{digest}"
