"""Build or refresh a proprietary-code index from source trees.

Inside a git work tree only tracked files are indexed (``git ls-files``), which already leaves out
build output and anything ignored; elsewhere the tree is walked. Either way vendored directories,
generated files, minified bundles and very large files are skipped: they are not the company's
own code, and their fingerprints would only make unrelated prompts match.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import regex

from detectors.code.fingerprint import K, fingerprint
from detectors.code.index_store import IndexedFile, IndexStore
from detectors.code.languages import LANGUAGES
from detectors.code.tokenizer import line_numbers

SOURCE_EXTENSIONS = frozenset(ext for lang in LANGUAGES for ext in lang.extensions) | {
    ".m", ".mm", ".lua", ".pl", ".pm", ".r", ".dart", ".ex", ".exs", ".erl", ".hs", ".clj", ".groovy",
    ".vue", ".svelte", ".proto", ".gradle", ".ps1", ".fs", ".ml", ".jl", ".zig", ".nim", ".sol",
}
SKIPPED_DIRECTORIES = frozenset(
    "node_modules vendor vendors _vendor _vendored third_party third-party thirdparty external externals bower_components "
    ".git .hg .svn .venv venv env .tox .mypy_cache __pycache__ site-packages dist build target out "
    ".next .nuxt coverage Pods Carthage .gradle .idea .terraform".split()
)
_GENERATED_NAME = regex.compile(
    r"(?:\.min\.(?:js|css)|[._-]pb2(?:_grpc)?\.pyi?|\.pb\.(?:go|cc|h)|\.g\.dart|\.generated\.\w+|"
    r"\.designer\.cs|_generated\.\w+|\.bundle\.js)$",
    regex.IGNORECASE,
)
_GENERATED_MARK = regex.compile(r"@generated|Code generated .* DO NOT EDIT|auto-?generated|do not edit", regex.I)
MAX_FILE_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class Candidate:
    repository: str
    root: Path
    relative: str

    @property
    def path(self) -> Path:
        return self.root / self.relative


@dataclass
class BuildReport:
    indexed: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0
    bytes: int = 0
    fingerprints: int = 0
    skipped_reasons: dict[str, int] = field(default_factory=dict)


def _git_root(path: Path) -> Path | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "--show-toplevel"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(result.stdout.strip()) if result.returncode == 0 else None


def _git_tracked(root: Path, below: Path) -> list[str]:
    result = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--", str(below.relative_to(root)) if below != root else "."],
        capture_output=True,
        check=True,
        timeout=300,
    )
    return [p for p in result.stdout.decode("utf-8", "surrogateescape").split("\0") if p]


def _walk(root: Path) -> list[str]:
    found = []
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_DIRECTORIES and not d.startswith("."))
        for name in sorted(names):
            found.append(str((Path(directory) / name).relative_to(root)))
    return found


def list_sources(path: Path) -> Iterator[Candidate]:
    """Source files below ``path`` worth indexing, git-tracked ones when it is a git work tree."""
    path = path.resolve()
    if path.is_file():
        yield Candidate(path.parent.name, path.parent, path.name)
        return
    git_root = _git_root(path)
    relatives = _git_tracked(git_root, path) if git_root is not None else []
    if relatives:
        repository, root = git_root.name, git_root
    else:  # not a work tree, or nothing tracked below path (an ignored or untracked directory)
        repository, root = path.name, path
        relatives = _walk(path)
    for relative in relatives:
        parts = relative.split("/")
        if any(part in SKIPPED_DIRECTORIES for part in parts[:-1]):
            continue
        if Path(relative).suffix.lower() in SOURCE_EXTENSIONS:
            yield Candidate(repository, root, relative)


def skip_reason(text: str, name: str) -> str | None:
    """Why a file's content is not indexed, or None."""
    if _GENERATED_NAME.search(name):
        return "generated"
    if "\x00" in text[:4096]:
        return "binary"
    if _GENERATED_MARK.search(text[:1000]):
        return "generated"
    lines = text.count("\n") + 1
    if len(text) / lines > 500:
        return "minified"
    return None


def fingerprint_file(candidate: Candidate, data: bytes, mtime_ns: int) -> IndexedFile | str:
    """The index entry for one file's content, or why it is skipped."""
    text = data.decode("utf-8", errors="replace")
    reason = skip_reason(text, candidate.relative)
    if reason:
        return reason
    prints = fingerprint(text)
    firsts = prints.tokens.starts[prints.first_token] if len(prints.hashes) else np.zeros(0, np.int64)
    lasts = prints.tokens.ends[prints.first_token + K - 1] - 1 if len(prints.hashes) else np.zeros(0, np.int64)
    return IndexedFile(
        repository=candidate.repository,
        path=candidate.relative,
        size=len(data),
        mtime_ns=mtime_ns,
        digest=hashlib.blake2b(data, digest_size=16).hexdigest(),
        lines=text.count("\n") + (0 if text.endswith("\n") else 1),
        hashes=prints.hashes,
        line_starts=line_numbers(text, firsts).astype(np.uint32),
        line_ends=line_numbers(text, lasts).astype(np.uint32),
    )


def build_index(
    store: IndexStore,
    name: str,
    label: str | None,
    paths: list[Path],
    progress: Callable[[int], None] | None = None,
    candidates: list[Candidate] | None = None,
) -> BuildReport:
    """Index ``paths`` under ``name``; unchanged files are skipped, vanished files removed.

    ``progress`` is called with the byte size of each file handled (for a progress bar).
    """
    report = BuildReport()
    if candidates is None:
        candidates = [c for path in paths for c in list_sources(path)]
    with store.transaction():
        store.ensure_index(name, label)
    by_repository: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        by_repository.setdefault(candidate.repository, []).append(candidate)
    for repository, items in by_repository.items():
        stamps = store.stamps(name, repository)
        seen = set()
        with store.transaction():
            for candidate in items:
                seen.add(candidate.relative)
                _index_one(store, name, candidate, stamps.get(candidate.relative), report, progress)
            gone = [stamp.id for path, stamp in stamps.items() if path not in seen]
            store.delete_files(gone)
            report.removed += len(gone)
    return report


def _index_one(store, name, candidate, stamp, report: BuildReport, progress) -> None:
    try:
        stat = candidate.path.stat()
        if stat.st_size > MAX_FILE_BYTES:
            _skip(report, "too large")
            return
        if stamp and stamp.size == stat.st_size and stamp.mtime_ns == stat.st_mtime_ns:
            report.unchanged += 1
            return
        data = candidate.path.read_bytes()
    except OSError:
        _skip(report, "unreadable")
        return
    finally:
        if progress:
            progress(_size(candidate))
    if stamp and stamp.digest == hashlib.blake2b(data, digest_size=16).hexdigest():
        store.touch(stamp.id, stat.st_mtime_ns)
        report.unchanged += 1
        return
    entry = fingerprint_file(candidate, data, stat.st_mtime_ns)
    if isinstance(entry, str):
        if stamp:  # indexed before, generated or binary now: its old fingerprints must go
            store.delete_files([stamp.id])
        _skip(report, entry)
        return
    store.put(name, entry)
    report.indexed += 1
    report.bytes += entry.size
    report.fingerprints += len(entry.hashes)


def _size(candidate: Candidate) -> int:
    try:
        return candidate.path.stat().st_size
    except OSError:
        return 0


def _skip(report: BuildReport, reason: str) -> None:
    report.skipped += 1
    report.skipped_reasons[reason] = report.skipped_reasons.get(reason, 0) + 1
