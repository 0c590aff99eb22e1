"""What is slow to build is built once per machine, not once per process: hyperscan databases
and the PII gazetteers.

Compiling the secret rules and the PII anchors takes over a second at every start of the proxy
or the CLI; loading the serialised database takes milliseconds. A database is stored under a
key hashed from everything its compilation depends on (expressions, ids, flags, mode, the
hyperscan version and the machine), so a change of rules or library makes a new key and the
stale file is never read. The cache is only ever written by this process's own compilation,
never downloaded. A file that cannot be read or loaded is a miss (compiled again and
rewritten); a cache directory that cannot be written only costs the compile next time.

Gazetteers (``cached_values``) are stored with ``marshal`` under a key of the Python version and
what the caller says they derive from (package versions, the building module's source).

Where: ``$LLM_DLP_CACHE_DIR``, else ``$XDG_CACHE_HOME/llm-dlp``, else ``~/.cache/llm-dlp``; the
databases go in its ``hyperscan/`` folder, values in ``values/``.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import platform
import tempfile
from pathlib import Path
import sys
from typing import Callable, Sequence, TypeVar

import hyperscan

T = TypeVar("T")


def cache_dir() -> Path:
    explicit = os.environ.get("LLM_DLP_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llm-dlp"


def compiled_database(
    expressions: Sequence[bytes], flags: Sequence[int], mode: int = hyperscan.HS_MODE_BLOCK
) -> hyperscan.Database:
    """A block-mode database of ``expressions`` (ids 0..n-1) with ``flags``: loaded from the
    cache when it holds this exact compilation, else compiled (raising ``hyperscan.error`` as a
    compile does) and stored."""
    path = cache_dir() / "hyperscan" / f"{_key(expressions, flags, mode)}.hsdb"
    database = _load(path, mode)
    if database is not None:
        return database
    database = hyperscan.Database(mode=mode)
    ids = list(range(len(expressions)))
    database.compile(expressions=list(expressions), ids=ids, elements=len(ids), flags=list(flags))
    _store(path, database)
    return database


def _key(expressions: Sequence[bytes], flags: Sequence[int], mode: int) -> str:
    digest = hashlib.sha256()
    for part in (hyperscan.__version__, platform.machine(), platform.python_implementation(), str(mode)):
        digest.update(part.encode() + b"\0")
    for expression, flag in zip(expressions, flags, strict=True):
        digest.update(len(expression).to_bytes(8, "big") + expression + flag.to_bytes(8, "big"))
    return digest.hexdigest()


def _load(path: Path, mode: int) -> hyperscan.Database | None:
    try:
        return hyperscan.loadb(path.read_bytes(), mode)
    except Exception:  # noqa: BLE001 — absent, truncated or from another build: compile instead
        return None


def _store(path: Path, database: hyperscan.Database) -> None:
    _write(path, hyperscan.dumpb(database))


def _write(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside, then renamed: a reader in another process sees all of it or nothing.
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
            handle.write(data)
        os.replace(handle.name, path)
    except OSError:
        pass  # read-only home or full disk: the next start compiles again


def cached_values(
    name: str, derived_from: Sequence[str], build: Callable[[], T], valid: Callable[[object], bool] | None = None
) -> T:
    """``build()``, or what an earlier process stored for the same ``name`` and ``derived_from``.

    The value must be made of what ``marshal`` stores (str, numbers, tuples, lists, dicts,
    sets, frozensets), and is loaded back as exactly that. ``valid`` checks the shape of a
    loaded value: a damaged file can still unmarshal to something, which is then rebuilt."""
    digest = hashlib.sha256(sys.version.encode() + b"\0")
    for part in derived_from:
        digest.update(part.encode() + b"\0")
    path = cache_dir() / "values" / f"{name}-{digest.hexdigest()[:32]}.marshal"
    try:
        loaded = marshal.loads(path.read_bytes())
        if valid is None or valid(loaded):
            return loaded
    except Exception:  # noqa: BLE001 — absent, unreadable or misshapen: build it
        pass
    value = build()
    _write(path, marshal.dumps(value))
    return value
