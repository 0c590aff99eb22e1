"""The audit log: one sealed JSON line per intercepted request, through a structlog processor chain.

Fields are named once here and the same everywhere (``llm-dlp audit`` reads these names).
Values never appear: findings carry a keyed hash and a masked preview only.

Each line is linked into the hash chain (``chain.py``) and written with one ``write(2)`` on an
``O_APPEND`` descriptor under an exclusive ``flock``, and ``record`` returns only once the line
is in the file: the addon forwards a request after that, so a proxy killed by SIGTERM, Ctrl-C or
a crash has written a line for every request it let through. Another process (``audit purge``)
may append to the same log: the lock, and a size check that re-reads the chain's tail when the
file grew behind our back, keep one unbroken chain.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
import logging
import os
import stat
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from llm_dlp.audit.chain import ChainState, head_file, load_or_create_chain_key, mac_of, open_line, read_head, write_head
from llm_dlp.audit.rotation import Rotation, first_line, line_time, lines_reversed, log_files, rotated_name
from llm_dlp.pipeline import RequestInfo, Verdict

EVENT = "dlp.decision"
# After an answer: how many placeholders were put back, and left in place by policy, per kind.
RESTORE_EVENT = "dlp.restore"


class AuditWriteError(OSError):
    """The audit line could not be written; the request must not be forwarded unaudited."""


class AuditLog:
    def __init__(
        self,
        target: str | Path,
        *,
        confdir: str | Path = "certs",
        key: bytes | None = None,
        rotation: Rotation = Rotation(),
        fsync: bool = False,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        head_dir: str | Path | None = None,
    ) -> None:
        self.target = str(target)
        self.path = None if self.target == "-" else Path(self.target)
        self._key = key if key is not None else load_or_create_chain_key(confdir)
        # Where the chain's head is kept (see chain.py); None keeps no head.
        self._head = head_file(head_dir, self.path) if head_dir is not None and self.path is not None else None
        self._rotation = rotation
        self._fsync = fsync
        self._clock = clock
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._closed = False
        self._inode: tuple[int, int] | None = None
        self._size = -1  # what we believe the file holds; anything else means resync
        self._first_time: dt.datetime | None = None  # time of the current file's first line
        self._state = ChainState()
        self._pending = ChainState()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._open()
        # A private logger, not structlog's global configuration: the proxy's own log messages
        # and the audit trail must never mix.
        self._logger = structlog.wrap_logger(
            _LineWriter(self),
            processors=[self._stamp, self._link, structlog.processors.JSONRenderer(ensure_ascii=False, default=str), self._seal],
        )

    def record(self, info: RequestInfo, verdict: Verdict) -> None:
        self.write(EVENT, **decision_fields(info, verdict))

    def write(self, event: str, **fields: Any) -> None:
        try:
            with self._lock:
                now = self._clock()
                if self.path is None:
                    self._logger.info(event, time=now, **fields)
                    return
                if self._closed:
                    raise ValueError("audit log is closed")
                if self._fd is None:  # a reopen failed earlier (say, the directory vanished): retry
                    self._open()
                fcntl.flock(self._fd, fcntl.LOCK_EX)
                try:
                    self._catch_up(now)
                    self._logger.info(event, time=now, **fields)
                    self._first_time = self._first_time or now
                finally:
                    if self._fd is not None:
                        fcntl.flock(self._fd, fcntl.LOCK_UN)
        except (OSError, ValueError) as exc:
            raise AuditWriteError(f"cannot write audit log {self.target}: {exc}") from exc

    @property
    def state(self) -> ChainState:
        return self._state

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._release()

    def _release(self) -> None:
        # Forget the descriptor before anything can fail: a stale number could be reused by
        # another file, and an audit line must never land there.
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    # -- the processor chain (runs under self._lock) ---------------------------------------------

    @staticmethod
    def _stamp(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        # time and event first: a reviewer reading the raw file sees when and what before the rest.
        when = event_dict.pop("time")
        stamped = {"time": when.isoformat(timespec="microseconds").replace("+00:00", "Z"), "event": event_dict.pop("event")}
        return stamped | event_dict

    def _link(self, _logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        event_dict["seq"] = self._state.seq + 1
        event_dict["prev"] = self._state.mac
        return event_dict

    def _seal(self, _logger: Any, _name: str, rendered: str) -> str:
        body = rendered.encode("utf-8")
        mac = mac_of(self._key, body)
        self._pending = ChainState(self._state.seq + 1, mac)
        return rendered[:-1] + f', "mac": "{mac}"}}'

    def _emit(self, line: str) -> None:
        data = (line + "\n").encode("utf-8")
        if self.path is None:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        else:
            _write_all(self._fd, data)  # type: ignore[arg-type]
            if self._fsync:
                os.fsync(self._fd)  # type: ignore[arg-type]
            self._size += len(data)
            if self._head is not None:
                self._keep_head()
        self._state = self._pending

    def _keep_head(self) -> None:
        # The line is in the log already; a head that cannot be written weakens only the
        # detection of a cut-off tail, so it is reported, and traffic is not stopped for it.
        try:
            write_head(self._head, self.path, self._pending, self._key)  # type: ignore[arg-type]
        except OSError as exc:
            logging.getLogger("llm_dlp").error("llm-dlp: cannot keep the audit head in %s: %s", self._head, exc)

    # -- the file under the lock -------------------------------------------------------------

    def _open(self) -> None:
        assert self.path is not None
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        info = os.fstat(self._fd)
        self._inode = (info.st_dev, info.st_ino)
        self._regular = stat.S_ISREG(info.st_mode)
        self._size = -1

    def _catch_up(self, now: dt.datetime) -> None:
        """Follow a rotation or a line another process wrote, then rotate if it is time."""
        assert self.path is not None and self._fd is not None
        if not self._regular:
            return
        try:
            on_disk = os.stat(self.path)
            moved = (on_disk.st_dev, on_disk.st_ino) != self._inode
        except FileNotFoundError:
            moved = True
        if moved:  # someone rotated or removed the file we hold: append to the file at our path
            self._release()
            self._open()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        size = os.fstat(self._fd).st_size
        if size != self._size:
            self._resync(size)
        if self._rotation.due(self._size, self._first_time, now):
            self._rotate()

    def _resync(self, size: int) -> None:
        assert self.path is not None
        self._size = size
        self._first_time = line_time(first_line(self.path))
        if size and not _ends_with_newline(self.path):
            # A torn last line (a crash mid-write): verify will name it; new lines start clean.
            _write_all(self._fd, b"\n")  # type: ignore[arg-type]
            self._size += 1
        self._state = ChainState()
        for candidate in reversed(log_files(self.path)):
            state = _last_sealed_state(candidate)
            if state is not None:
                self._state = state
                break
        head = read_head(self._head, self._key) if self._head is not None else None
        if head is not None and head.seq > self._state.seq:
            # Lines were cut off the end while nobody wrote: link past the gap so it stays visible.
            self._state = head

    def _rotate(self) -> None:
        assert self.path is not None and self._fd is not None
        head = first_line(self.path)
        first_seq = open_line(head).seq if head else self._state.seq + 1
        target = rotated_name(self.path, first_seq, self._first_time or self._clock())
        os.rename(self.path, target)
        self._release()
        self._open()
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self._size = os.fstat(self._fd).st_size
        self._first_time = None


class _LineWriter:
    """The structlog "logger" at the end of the chain: hands the sealed line to the AuditLog."""

    def __init__(self, log: AuditLog) -> None:
        self._log = log

    def msg(self, message: str) -> None:
        self._log._emit(message)

    info = msg


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def _last_sealed_state(path: Path) -> ChainState | None:
    for raw in lines_reversed(path):
        try:
            line = open_line(raw)
        except ValueError:
            continue
        return ChainState(line.seq, line.mac)
    return None


def decision_fields(info: RequestInfo, verdict: Verdict) -> dict[str, Any]:
    return {
        "request_id": info.request_id,
        "tenant": verdict.tenant,
        "user": info.user,
        "client": info.client_address,
        "method": info.method,
        "host": info.host,
        "path": info.path,
        "provider": info.provider,
        "region": (verdict.route or {}).get("region") or info.region or None,
        "format": verdict.format,
        "model": verdict.model,
        "decision": verdict.decision,
        "mode": verdict.policy_mode,
        "status": verdict.status if verdict.answers_client else None,
        "reason": verdict.message or None,
        "error": verdict.error,
        "findings": [dataclasses.asdict(f) for f in verdict.findings],
        "body_bytes": verdict.body_bytes,
        "scan_ms": verdict.scan_ms,
        # Present only when they apply, so the common line stays short.
        **({"groups": list(info.groups)} if info.groups else {}),
        **({"reroute": verdict.reroute} if verdict.reroute else {}),
        **({"route": dict(verdict.route)} if verdict.route else {}),
        **({"shadow": verdict.shadow} if verdict.shadow else {}),
    }
