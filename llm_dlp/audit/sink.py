"""Where sealed audit lines go: the log file (locked, appended, rotated) or a stream.

A sink only writes. ``LogFile`` appends each line with one ``write(2)`` on an ``O_APPEND``
descriptor under an exclusive ``flock``; before a line it follows a rotation or a removal of the
file, notices lines another process (``audit purge``) appended, and rotates when
``rotation.Rotation`` says it is time. Whether the chain must be re-read from the file is its
answer to ``catch_up``; reading it is the chain's business (``chain.tail_state``).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import stat
from pathlib import Path
from typing import TextIO

from llm_dlp.audit.rotation import Rotation, first_line, line_time, rotate


class LogFile:
    def __init__(self, path: Path, rotation: Rotation = Rotation(), fsync: bool = False) -> None:
        self.path = path
        self._rotation = rotation
        self._fsync = fsync
        self._fd: int | None = None
        self._closed = False
        self._inode: tuple[int, int] | None = None
        self._regular = True
        self._size = -1  # what we believe the file holds; anything else means another writer
        self._first_time: dt.datetime | None = None  # time of the current file's first line
        path.parent.mkdir(parents=True, exist_ok=True)
        self._open()

    def lock(self) -> None:
        if self._closed:
            raise ValueError("audit log is closed")
        if self._fd is None:  # a reopen failed earlier (say, the directory vanished): retry
            self._open()
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # type: ignore[arg-type]

    def unlock(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def catch_up(self) -> bool:
        """Follow a rotation or removal; True when the file is not what we last wrote (another
        writer's lines, a restart, a torn tail), so the chain must be re-read from it."""
        if not self._regular:
            return False
        try:
            on_disk = os.stat(self.path)
            moved = (on_disk.st_dev, on_disk.st_ino) != self._inode
        except FileNotFoundError:
            moved = True
        if moved:  # someone rotated or removed the file we hold: append to the file at our path
            self._release()
            self.lock()
        size = os.fstat(self._fd).st_size  # type: ignore[arg-type]
        if size == self._size:
            return False
        self._size = size
        self._first_time = line_time(first_line(self.path))
        if size and not _ends_with_newline(self.path):
            # A torn last line (a crash mid-write): verify will name it; new lines start clean.
            self._append(b"\n")
        return True

    def rotate_if_due(self, now: dt.datetime, next_seq: int) -> None:
        """``next_seq`` names the rotated file when its first line cannot be read."""
        if not self._regular or not self._rotation.due(self._size, self._first_time, now):
            return
        rotate(self.path, next_seq, self._first_time or now)
        self._release()
        self.lock()
        self._size = os.fstat(self._fd).st_size  # type: ignore[arg-type]
        self._first_time = None

    def write(self, line: str, now: dt.datetime) -> None:
        self._append((line + "\n").encode("utf-8"))
        if self._fsync:
            os.fsync(self._fd)  # type: ignore[arg-type]
        self._first_time = self._first_time or now

    def close(self) -> None:
        self._closed = True
        self._release()

    def _append(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)  # type: ignore[arg-type]
            view = view[written:]
        self._size += len(data)

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        info = os.fstat(self._fd)
        self._inode = (info.st_dev, info.st_ino)
        self._regular = stat.S_ISREG(info.st_mode)
        self._size = -1

    def _release(self) -> None:
        # Forget the descriptor before anything can fail: a stale number could be reused by
        # another file, and an audit line must never land there.
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


class Stream:
    """A text stream (``--audit-log -``: stdout): sealed lines, no lock, no rotation, no resume."""

    path = None

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._closed = False

    def lock(self) -> None:
        if self._closed:
            raise ValueError("audit log is closed")

    def unlock(self) -> None:
        pass

    def catch_up(self) -> bool:
        return False

    def rotate_if_due(self, now: dt.datetime, next_seq: int) -> None:
        pass

    def write(self, line: str, now: dt.datetime) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()

    def close(self) -> None:
        self._closed = True


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"
