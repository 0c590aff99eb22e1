"""The hash chain that makes audit lines tamper-evident.

Every line carries ``seq`` (1, 2, 3 ... across rotated files), ``prev`` (the previous line's MAC)
and, last, ``mac``: HMAC-SHA256 under the chain key of the line's own bytes up to the ``mac``
field. Editing a line breaks its MAC; deleting, inserting, duplicating or reordering lines breaks
the ``seq``/``prev`` links; nobody without the key can re-seal a forged line.

The MAC covers the exact bytes written, not a re-serialisation, so verification never depends on
how a JSON library orders keys or escapes characters.

The chain key lives in the confdir beside the CA, in its own file: handing a reviewer the chain
key (to verify) does not also hand them the value-hash key (to confirm guesses of secrets).

The chain alone cannot show that lines were cut off its end: the shorter log is still a valid
chain. So the writer also keeps the chain's *head* (last seq and MAC, sealed with the chain key)
in the confdir, apart from the log: ``verify`` reports a log that ends before its head, and a
writer that finds its log shorter than the head continues the chain from the head, so the gap
stays in the log for good ("N lines missing here").

The head may lag the log while the writer runs (by at most ``AuditLog``'s ``head_every``, one
second by default: replacing a file per line was most of what a line cost); it is brought up to
the last line when the writer closes, so after a normal exit it is exact. After a crash it names a
line up to that second older than the last one: lines cut off after it would go unnoticed, lines
cut off before it are reported as before. A lagging head is never wrong, only older: it always
names a line that was written, and a running writer bridges a tail cut behind its back from the
last line it wrote itself, not from the head.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_dlp.audit.rotation import lines_reversed, log_files
from llm_dlp.keys import ensure_key_file

CHAIN_KEY_FILE = "llm-dlp-audit-chain.key"
HEAD_FILE_PREFIX = "llm-dlp-audit-head-"
GENESIS = "0" * 64  # the ``prev`` of the very first line of a chain
PURGE_EVENT = "dlp.audit.purge"

_SEALED = re.compile(rb'^(?P<body>\{.*), "mac": "(?P<mac>[0-9a-f]{64})"\}$', re.DOTALL)


class ChainKeyError(OSError):
    """The chain key is missing or unreadable."""


@dataclass(frozen=True, slots=True)
class ChainState:
    """Where the chain stands: the last line's sequence number and MAC."""

    seq: int = 0
    mac: str = GENESIS


@dataclass(frozen=True, slots=True)
class SealedLine:
    seq: int
    prev: str
    mac: str
    body: bytes  # the bytes the MAC covers
    fields: dict[str, Any]


def load_or_create_chain_key(confdir: str | Path) -> bytes:
    ensure_key_file(Path(confdir) / CHAIN_KEY_FILE)
    return load_chain_key(confdir)


def load_chain_key(confdir: str | Path) -> bytes:
    """The existing key only: a verifier that made up a fresh key would call every line forged."""
    path = Path(confdir) / CHAIN_KEY_FILE
    try:
        key = bytes.fromhex(path.read_text().strip())
    except FileNotFoundError as exc:
        raise ChainKeyError(f"no audit chain key at {path} (use --confdir to point at the proxy's confdir)") from exc
    except ValueError as exc:
        raise ChainKeyError(f"{path}: not a hex key") from exc
    if len(key) < 16:
        raise ChainKeyError(f"{path}: key is too short")
    return key


def mac_of(key: bytes, body: bytes) -> str:
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def seal(key: bytes, state: ChainState, fields: dict[str, Any]) -> tuple[bytes, ChainState]:
    """One finished line (with newline) for ``fields``, and the chain state after it."""
    body = render_body(fields, state)
    mac = mac_of(key, body)
    return body[:-1] + b', "mac": "' + mac.encode() + b'"}\n', ChainState(state.seq + 1, mac)


def render_body(fields: dict[str, Any], state: ChainState) -> bytes:
    linked = {**fields, "seq": state.seq + 1, "prev": state.mac}
    return json.dumps(linked, ensure_ascii=False, default=str).encode("utf-8")


def open_line(raw: bytes) -> SealedLine:
    """Split a line into its sealed body and MAC; ``ValueError`` when it is not a sealed line."""
    match = _SEALED.match(raw.rstrip(b"\r\n"))
    if match is None:
        raise ValueError("not a sealed audit line (no trailing mac field)")
    body = match["body"] + b"}"
    fields = json.loads(body)
    seq, prev = fields.get("seq"), fields.get("prev")
    if not isinstance(seq, int) or not isinstance(prev, str):
        raise ValueError("sealed line without seq/prev")
    return SealedLine(seq, prev, match["mac"].decode(), body, fields)


def tail_state(log: Path, head: ChainState | None = None) -> ChainState:
    """Where a writer continues the chain of the log at ``log``: after its last sealed line
    (in the newest file that has one), or after ``head`` when lines were cut off the end while
    nobody wrote, so that the gap stays visible in the log."""
    state = ChainState()
    for candidate in reversed(log_files(log)):
        found = _last_sealed(candidate)
        if found is not None:
            state = found
            break
    if head is not None and head.seq > state.seq:
        return head
    return state


def _last_sealed(path: Path) -> ChainState | None:
    for raw in lines_reversed(path):
        try:
            line = open_line(raw)
        except ValueError:
            continue
        return ChainState(line.seq, line.mac)
    return None


def head_file(confdir: str | Path, log: Path) -> Path:
    """Where the head of the log at ``log`` is kept: one file per log path, so writers of
    different logs sharing a confdir never race on one file."""
    digest = hashlib.sha256(str(log.resolve()).encode()).hexdigest()[:16]
    return Path(confdir) / f"{HEAD_FILE_PREFIX}{digest}.json"


@dataclass(frozen=True, slots=True)
class KeptHead:
    """Where one log's head is kept, worked out once: the log's resolved path (which the head
    names) and the file names do not change while a writer runs, and resolving a path on every
    line cost more than sealing it."""

    path: Path
    log: str  # the log's resolved path, as the head names it
    _temporary: str
    _final: str

    @classmethod
    def of(cls, confdir: str | Path, log: Path) -> KeptHead:
        path = head_file(confdir, log)
        return cls(path, str(log.resolve()), str(path.with_name(path.name + ".tmp")), str(path))

    def write(self, state: ChainState, key: bytes) -> None:
        fields = {"log": self.log, "seq": state.seq, "mac": state.mac}
        fields["seal"] = mac_of(key, json.dumps(fields, sort_keys=True).encode())
        data = (json.dumps(fields) + "\n").encode()
        fd = os.open(self._temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(self._temporary, self._final)  # a reader sees the old head or the new one, never half of one


def read_head(path: Path, key: bytes) -> ChainState | None:
    """The head kept at ``path``; None when there is none. ``ValueError`` when it was edited."""
    try:
        fields = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    seal = fields.pop("seal", None) if isinstance(fields, dict) else None
    if not isinstance(seal, str) or not hmac.compare_digest(seal, mac_of(key, json.dumps(fields, sort_keys=True).encode())):
        raise ValueError(f"{path}: the audit head does not match its seal: edited")
    return ChainState(int(fields["seq"]), str(fields["mac"]))


def head_for(files: list[Path], confdir: str | Path, key: bytes) -> ChainState | None:
    """The kept head of the log among ``files`` (its current file is one of them), if any."""
    for path in files:
        head = read_head(head_file(confdir, path), key)
        if head is not None:
            return head
    return None
