"""Where an audit log's lines live: the current file and the rotated files before it.

A log ``audit.jsonl`` rotates to ``audit.<first line's UTC time>.<first seq>.jsonl``; the chain
continues into the new current file. Files are put in chain order by the ``seq`` of their first
line, never by modification time, which a copy or a restore would change.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

DEFAULT_LOG = Path("llm-dlp-audit.jsonl")  # the proxy's default --audit-log, in the working directory
_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class Rotation:
    """When the writer starts a new file: past ``max_bytes``, or when the UTC day changes."""

    max_bytes: int | None = 100 * 1024 * 1024
    daily: bool = True

    def due(self, size: int, first_time: dt.datetime | None, now: dt.datetime) -> bool:
        if size <= 0:
            return False
        if self.max_bytes is not None and size >= self.max_bytes:
            return True
        return self.daily and first_time is not None and first_time.date() != now.date()


def rotated_name(current: Path, first_seq: int, first_time: dt.datetime) -> Path:
    stamp = first_time.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return current.with_name(f"{current.stem}.{stamp}.{first_seq:012d}{current.suffix}")


def rotate(current: Path, fallback_seq: int, first_time: dt.datetime) -> Path:
    """Move the current file aside, named by its first line; the writer then starts a new one.
    ``fallback_seq`` names it when that line cannot be read (torn)."""
    target = rotated_name(current, first_seq(current) or fallback_seq, first_time)
    os.rename(current, target)
    return target


def _rotated_pattern(current: Path) -> re.Pattern[str]:
    return re.compile(re.escape(current.stem) + r"\.\d{8}T\d{6}Z\.\d{12}" + re.escape(current.suffix) + "$")


def log_files(current: Path) -> list[Path]:
    """The current log and its rotated files, oldest first."""
    pattern = _rotated_pattern(current)
    directory = current.parent
    rotated = [p for p in directory.iterdir() if pattern.match(p.name)] if directory.is_dir() else []
    files = rotated + ([current] if current.exists() else [])
    return in_chain_order(files)


def resolve_files(named: Iterable[str | Path]) -> list[Path]:
    """The files an ``audit`` command reads: each named log with its rotated files (default: ours)."""
    named = [Path(n) for n in named] or [DEFAULT_LOG]
    files: list[Path] = []
    for path in named:
        expanded = [path] if _is_rotated_file(path) else log_files(path)
        if not expanded and not path.exists():
            raise FileNotFoundError(f"no audit log at {path}")
        files.extend(p for p in expanded if p not in files)
    return in_chain_order(files)


def resolve_chains(named: Iterable[str | Path]) -> list[list[Path]]:
    """The files an ``audit`` command reads, one list per chain, each in chain order.

    A chain is one log path and its rotated files: each proxy instance writes its own (several
    processes appending to one file share its chain through the file lock). Logs of several
    instances are several chains, verified each on its own."""
    chains: dict[Path, list[Path]] = {}
    for path in resolve_files(named):
        chains.setdefault(current_log(path), []).append(path)
    return [in_chain_order(files) for files in chains.values()]


def current_log(path: Path) -> Path:
    """The current file a rotated file was rotated from (``rotated_name`` undone)."""
    return path.with_name(_ROTATED_STAMP.sub("", path.name)) if _is_rotated_file(path) else path


_ROTATED_STAMP = re.compile(r"\.\d{8}T\d{6}Z\.\d{12}(?=\.[^.]+$)")


def _is_rotated_file(path: Path) -> bool:
    return re.search(r"\.\d{8}T\d{6}Z\.\d{12}\.[^.]+$", path.name) is not None


def in_chain_order(files: Iterable[Path]) -> list[Path]:
    def order(path: Path) -> tuple[int, str]:
        # Unreadable or empty files go last, in name order, so verify still reaches and names them.
        return (first_seq(path) or 1 << 62, path.name)

    return sorted(files, key=order)


def first_seq(path: Path) -> int | None:
    line = first_line(path)
    try:
        seq = json.loads(line).get("seq") if line else None
    except (ValueError, AttributeError):
        seq = None
    return seq if isinstance(seq, int) else None


def first_line(path: Path) -> bytes | None:
    if not path.is_file():
        return None
    with open(path, "rb") as handle:
        line = handle.readline()
    return line.rstrip(b"\n") or None


def lines_reversed(path: Path) -> Iterator[bytes]:
    """Complete lines from the end of a file backwards, without reading the whole file."""
    with open(path, "rb") as handle:
        end = handle.seek(0, os.SEEK_END)
        pending = b""
        while end > 0:
            start = max(0, end - _CHUNK)
            handle.seek(start)
            pending = handle.read(end - start) + pending
            end = start
            parts = pending.split(b"\n")
            pending = parts[0]
            for part in reversed(parts[1:]):
                if part:
                    yield part
        if pending:
            yield pending


def line_time(raw: bytes | None) -> dt.datetime | None:
    if not raw:
        return None
    try:
        return parse_time(json.loads(raw)["time"])
    except (ValueError, KeyError, TypeError):
        return None


def parse_time(text: str) -> dt.datetime:
    """ISO 8601 from the log or the command line; a date alone means its midnight UTC."""
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
