"""``llm-dlp audit purge --before DATE``: retention that leaves an unbroken, explained chain.

Only whole rotated files go, and only the oldest ones (a prefix of the chain), so what remains is
still one chain. Before deleting anything, the purge appends a chained ``dlp.audit.purge`` event
naming the files and the ``anchor``, the seq and MAC of the last purged line; ``verify`` accepts
a log that begins right after a recorded anchor. A log that does not verify is not purged: a purge
must never launder an edit.
"""

from __future__ import annotations

import datetime as dt
import getpass
from dataclasses import dataclass, field
from pathlib import Path

from llm_dlp.audit.chain import ChainState, head_for, open_line
from llm_dlp.audit.events import PurgeEvent
from llm_dlp.audit.log import AuditLog
from llm_dlp.audit.rotation import Rotation, line_time, lines_reversed, log_files
from llm_dlp.audit.verify import Problem, verify


class PurgeRefused(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(f"the log does not verify, refusing to purge: {problem}")
        self.problem = problem


@dataclass(slots=True)
class PurgeResult:
    files: list[Path] = field(default_factory=list)
    lines: int = 0
    anchor: ChainState | None = None


def purge(current: Path, before: dt.datetime, key: bytes, *, confdir: str | Path | None = None,
          dry_run: bool = False) -> PurgeResult:
    """``confdir``: where the writer keeps the chain's head (chain.py), checked and advanced here."""
    files = log_files(current)
    checked = verify(files, key, head_for(files, confdir, key) if confdir is not None else None)
    if checked.problem is not None:
        raise PurgeRefused(checked.problem)
    result = PurgeResult()
    for path in files:
        if path == current:
            break  # the file the proxy writes to is never purged
        last = next(lines_reversed(path), None)
        ended = line_time(last)
        if last is None or ended is None or ended >= before:
            break  # keep the chain contiguous: nothing after a kept file goes either
        result.files.append(path)
        sealed = open_line(last)
        result.anchor = ChainState(sealed.seq, sealed.mac)
    result.lines = sum(_count_lines(p) for p in result.files)
    if not result.files or dry_run:
        return result
    # Record first, delete second: a crash in between leaves extra files, never an unexplained gap.
    writer = AuditLog(current, key=key, rotation=Rotation(max_bytes=None, daily=False), head_dir=confdir)
    try:
        writer.record_event(PurgeEvent(
            before=before.isoformat(),
            files=tuple(p.name for p in result.files),
            lines=result.lines,
            anchor_seq=result.anchor.seq,  # type: ignore[union-attr]
            anchor_mac=result.anchor.mac,  # type: ignore[union-attr]
            by=getpass.getuser(),
        ))
    finally:
        writer.close()
    for path in result.files:
        path.unlink()
    return result


def _count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)
