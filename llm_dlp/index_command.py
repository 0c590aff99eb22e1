"""`llm-dlp index build|list|stats|remove`: the proprietary-code index (issue 5).

``register(subparsers)`` adds the ``index`` command to the CLI; ``cli.py`` calls it.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from detectors.code.index_store import DEFAULT_INDEX_DIR, IndexStore, OutdatedIndexError, db_path
from detectors.code.indexer import build_index, list_sources


def register(subparsers: argparse._SubParsersAction) -> None:
    index = subparsers.add_parser("index", help="manage the proprietary-code index")
    commands = index.add_subparsers(dest="index_command", required=True)

    build = commands.add_parser("build", help="index (or re-index) source trees under a name")
    build.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="repositories, directories or files")
    build.add_argument("--name", required=True, help="index name (the `rule` of proprietary_code findings)")
    build.add_argument("--label", help="label policies act on, e.g. `core` (default: kept from the last build, else the name)")
    build.add_argument("--no-progress", action="store_true", help="do not draw a progress bar")
    build.set_defaults(handler=_build)

    listing = commands.add_parser("list", help="list the indexes in the index directory")
    listing.set_defaults(handler=_list)
    stats = commands.add_parser("stats", help="files, lines, fingerprints and size per index")
    stats.set_defaults(handler=_stats)
    remove = commands.add_parser("remove", help="delete an index")
    remove.add_argument("name")
    remove.set_defaults(handler=_remove)

    for command in (build, listing, stats, remove):
        command.add_argument(
            "--index-dir", type=Path, default=Path(DEFAULT_INDEX_DIR), help=f"index directory (default: ./{DEFAULT_INDEX_DIR})"
        )


def _build(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        print(f"llm-dlp: no such path: {', '.join(missing)}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    candidates = [c for path in args.paths for c in list_sources(path)]
    total = sum(_size(c.path) for c in candidates)
    store = IndexStore(args.index_dir, create=True)
    try:
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"indexing {args.name}", disable=args.no_progress,
                  file=sys.stderr) as bar:
            report = build_index(store, args.name, args.label, args.paths, bar.update, candidates)
    finally:
        store.close()
    elapsed = time.perf_counter() - started
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(report.skipped_reasons.items()))
    print(
        f"{args.name}: {report.indexed} files indexed, {report.unchanged} unchanged, {report.removed} removed, "
        f"{report.skipped} skipped{f' ({skipped})' if skipped else ''}; {report.fingerprints} fingerprints "
        f"from {report.bytes / 1e6:.2f} MB in {elapsed:.1f}s"
    )
    return 0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _open(index_dir: Path, writable: bool = False) -> IndexStore | None:
    if not db_path(index_dir).exists():
        print(f"no code index in {index_dir}", file=sys.stderr)
        return None
    try:
        # writable: an index of an older version is upgraded (emptied of its files) on open
        return IndexStore(index_dir, create=writable)
    except OutdatedIndexError as error:
        print(f"llm-dlp: {error}", file=sys.stderr)
        return None


def _list(args: argparse.Namespace) -> int:
    store = _open(args.index_dir)
    if store is None:
        return 0
    for summary in store.summaries():
        print(f"{summary.name}\tlabel={summary.label}\trepositories={summary.repositories}\tfiles={summary.files}")
    store.close()
    return 0


def _stats(args: argparse.Namespace) -> int:
    store = _open(args.index_dir)
    if store is None:
        return 0
    summaries = store.summaries()
    store.close()
    print(f"{'name':16} {'label':10} {'repos':>5} {'files':>7} {'lines':>10} {'source MB':>9} {'fingerprints':>12}  updated")
    for s in summaries:
        updated = datetime.fromtimestamp(s.updated, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        print(
            f"{s.name:16} {s.label:10} {s.repositories:5d} {s.files:7d} {s.lines:10d} {s.bytes / 1e6:9.2f} "
            f"{s.fingerprints:12d}  {updated}"
        )
    size = sum(p.stat().st_size for p in Path(args.index_dir).glob("index.sqlite3*"))
    print(f"index directory {args.index_dir}: {size / 1e6:.2f} MB on disk")
    return 0


def _remove(args: argparse.Namespace) -> int:
    store = _open(args.index_dir, writable=True)
    if store is None:
        return 1
    removed = store.remove(args.name)
    store.close()
    if not removed:
        print(f"llm-dlp: no index named {args.name!r}", file=sys.stderr)
        return 1
    print(f"removed {args.name}")
    return 0
