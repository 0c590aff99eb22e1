"""A program driven in a pseudo-terminal, as a user at a terminal drives it: for full-screen CLIs.

Codex's interactive interface draws with terminal escape codes and asks the terminal where its
cursor is before it draws; without a terminal (or without an answer) it does not start. This
runs the program on a pty of a fixed size, answers the cursor-position query, and keeps what it
printed; ``text`` is that output with the escape codes taken out, so a test can look for what the
screen showed (the interface redraws, so a line may appear there more than once).
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Callable, Sequence
from pathlib import Path

# CSI sequences, OSC strings, and the two- and three-byte escapes (charset selection and the like).
_ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[@-Z\\-_=>78]")
_CURSOR_QUERY = b"\x1b[6n"
ROWS, COLUMNS = 40, 120


class Terminal:
    def __init__(self, argv: Sequence[str], *, cwd: Path, env: dict[str, str]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        # Its own session: the pty becomes its controlling terminal, and its children go with it.
        self.process = subprocess.Popen(list(argv), cwd=cwd, env=env | {"TERM": "xterm-256color"},
                                        stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
        os.close(slave)
        self._master = master
        self.raw = b""

    def text(self, since: int = 0) -> str:
        """What the program printed from byte ``since`` on, without escape codes."""
        return _ESCAPES.sub(b"", self.raw[since:]).decode("utf-8", "replace")

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        """Read the program's output until ``condition`` holds; fail with what was shown if it never does."""
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or (not self._read(min(0.5, remaining)) and self.process.poll() is not None):
                raise AssertionError(f"{what}: not shown within {timeout:g}s (exit {self.process.poll()}); "
                                     f"the terminal showed:\n{self.text()[-3000:]}")

    def settle(self, quiet: float = 1.0, limit: float = 10.0) -> None:
        """Read until the program has printed nothing for ``quiet`` seconds (a redraw finished)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and self._read(quiet):
            pass

    def type(self, text: str) -> None:
        """Typed text as one paste, then Enter on its own: typed fast, Enter would join the paste."""
        os.write(self._master, b"\x1b[200~" + text.encode() + b"\x1b[201~")
        self.settle(0.5)
        os.write(self._master, b"\r")

    def close(self) -> None:
        """Ctrl-C twice (the interface's own way out), then SIGTERM, and SIGKILL to what is left of
        its process group (helpers it started)."""
        for _ in range(2):
            if self.process.poll() is None:
                try:
                    os.write(self._master, b"\x03")
                except OSError:  # it exited meanwhile, and the pty closed
                    break
                self.settle(0.5, limit=3)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:  # the whole group is gone
                break
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.process.wait()
        os.close(self._master)

    def _read(self, timeout: float) -> bool:
        """One read of what is there within ``timeout``; False when nothing came (or the pty closed)."""
        ready, _, _ = select.select([self._master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self._master, 65536)
        except OSError:  # the program exited and the pty closed
            return False
        if _CURSOR_QUERY in chunk:  # where the cursor is: the top left, a fresh screen
            os.write(self._master, b"\x1b[1;1R")
        self.raw += chunk
        return bool(chunk)
