"""`llm-dlp audit ...`: verify, query, summary, report, purge, seen (issue 8).

``register(subparsers)`` adds the ``audit`` command to the CLI; ``cli.py`` calls it. Every
subcommand reads the log files named on its command line (default: ``llm-dlp-audit.jsonl`` in
the working directory) together with their rotated files, in chain order.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from functools import partial
from pathlib import Path

from llm_dlp.audit.chain import ChainKeyError, head_for, load_chain_key
from llm_dlp.audit.rotation import DEFAULT_LOG, parse_time, resolve_chains, resolve_files


def register(subparsers: argparse._SubParsersAction) -> None:
    audit = subparsers.add_parser("audit", help="verify, query and report on the audit log")
    commands = audit.add_subparsers(title="audit commands", metavar="COMMAND")
    audit.set_defaults(handler=lambda _args: audit.print_help() or 2)

    verify = _command(commands, "verify", "check the hash chain; name the first edited, inserted, deleted or reordered line")
    verify.add_argument("--json", action="store_true", help="print the result as one JSON object")
    verify.set_defaults(handler=_verify)

    query = _command(commands, "query", "print the lines that match the filters")
    _filters(query)
    query.add_argument("--json", action="store_true", help="print matching lines as written (JSON lines, MAC included)")
    query.add_argument("--limit", type=int,
                       help="only the newest N rows (a request and its upstream answer make one row; with --json, N lines)")
    query.set_defaults(handler=_query)

    summary = _command(commands, "summary", "counts by tenant, decision, finding kind; top users and rules")
    _filters(summary)
    summary.add_argument("--json", action="store_true")
    summary.add_argument("--top", type=int, default=10, help="how many users, rules and hosts to list")
    summary.set_defaults(handler=_summary)

    report = _command(commands, "report", "write a self-contained HTML report with charts")
    _filters(report)
    report.add_argument("--html", type=Path, required=True, metavar="FILE", help="where to write the page")
    report.set_defaults(handler=_report)

    purge = _command(commands, "purge", "delete rotated files whose lines are all older than DATE, recording the purge")
    purge.add_argument("--before", required=True, metavar="DATE", help="ISO date or time (UTC unless it says otherwise)")
    purge.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
    purge.set_defaults(handler=_purge)

    seen = _command(commands, "seen", "was this value ever seen? hashes it with the key and searches the findings",
                    value="the value to look for, or - to read it from stdin (keeps it out of shell history)")
    seen.add_argument("--json", action="store_true", help="print matching lines as written")
    seen.set_defaults(handler=_seen)


def _command(commands: argparse._SubParsersAction, name: str, help_text: str, value: str | None = None) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help_text, description=help_text)
    if value is not None:  # before the files, which take every remaining argument
        parser.add_argument("value", help=value)
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help=f"audit log(s); each brings its rotated files along (default: {DEFAULT_LOG})")
    parser.add_argument("--confdir", type=Path, default=Path("certs"), help="where the proxy keeps its CA and keys")
    return parser


def _filters(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("filters (repeat an option to accept any of its values)")
    group.add_argument("--since", type=_time, metavar="TIME", help="from this ISO date/time on (inclusive, UTC)")
    group.add_argument("--until", type=_time, metavar="TIME", help="before this ISO date/time (exclusive, UTC)")
    for name in ("tenant", "user", "decision", "kind", "rule", "host", "model", "event"):
        group.add_argument(f"--{name}", action="append", default=[], metavar=name.upper())


def _time(text: str) -> dt.datetime:
    try:
        return parse_time(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or time: {text!r}") from None


def _where(args: argparse.Namespace):
    from llm_dlp.audit.query import Filter

    return Filter(
        since=args.since, until=args.until,
        tenants=frozenset(args.tenant), users=frozenset(args.user), decisions=frozenset(args.decision),
        kinds=frozenset(args.kind), rules=frozenset(args.rule), hosts=frozenset(args.host),
        models=frozenset(args.model), events=frozenset(args.event),
    )


def _files(args: argparse.Namespace) -> list[Path]:
    return resolve_files(args.files)


def _fail(message: str) -> int:
    print(f"llm-dlp audit: {message}", file=sys.stderr)
    return 2


# -- handlers -----------------------------------------------------------------------------------


def _verify(args: argparse.Namespace) -> int:
    from llm_dlp.audit.verify import as_json, describe, verify_chains

    try:
        chains, key = resolve_chains(args.files), load_chain_key(args.confdir)
        result = verify_chains(chains, key, partial(head_for, confdir=args.confdir, key=key))
    except (OSError, ChainKeyError) as exc:
        return _fail(str(exc))
    except ValueError as exc:  # the kept head was edited: that is a failed verification too
        print(f"FAILED: {exc}")
        return 1
    print(as_json(result) if args.json else describe(result))
    return 0 if result.ok else 1


def _query(args: argparse.Namespace) -> int:
    from llm_dlp.audit.query import json_lines, newest, select_merged, table

    # A table row is a request and its answer line: twice the lines cover the newest N rows.
    lines = args.limit if args.json or args.limit is None else 2 * args.limit
    try:
        matched = newest(select_merged(resolve_chains(args.files), _where(args)), lines)
    except OSError as exc:
        return _fail(str(exc))
    if args.json:
        for line in json_lines(matched):
            print(line)
    else:
        print(table(matched, args.limit))
    return 0


def _summary(args: argparse.Namespace) -> int:
    from llm_dlp.audit.query import select_merged
    from llm_dlp.audit.summary import as_json, as_text, summarize

    try:
        summary = summarize(select_merged(resolve_chains(args.files), _where(args)))
    except OSError as exc:
        return _fail(str(exc))
    print(as_json(summary, args.top) if args.json else as_text(summary, args.top))
    return 0


def _report(args: argparse.Namespace) -> int:
    from llm_dlp.audit.query import select_merged
    from llm_dlp.audit.report import render, write_report
    from llm_dlp.audit.summary import summarize
    from llm_dlp.audit.verify import verify_chains

    try:
        chains = resolve_chains(args.files)
        files = [path for chain in chains for path in chain]
        summary = summarize(select_merged(chains, _where(args)))
    except OSError as exc:
        return _fail(str(exc))
    try:
        key = load_chain_key(args.confdir)
        verification = verify_chains(chains, key, partial(head_for, confdir=args.confdir, key=key))
    except (ChainKeyError, ValueError) as exc:
        print(f"llm-dlp audit: chain not checked: {exc}", file=sys.stderr)
        verification = None
    html = render(summary, sources=files, verification=verification, generated=dt.datetime.now(dt.UTC))
    write_report(args.html, html)
    print(f"wrote {args.html} ({summary.requests} requests)")
    return 0


def _purge(args: argparse.Namespace) -> int:
    from llm_dlp.audit.purge import PurgeRefused, purge

    current = [Path(f) for f in args.files] or [DEFAULT_LOG]
    if len(current) != 1:
        return _fail("purge works on one log at a time (name its current file)")
    try:
        before = parse_time(args.before)
        result = purge(current[0], before, load_chain_key(args.confdir), confdir=args.confdir, dry_run=args.dry_run)
    except ValueError:
        return _fail(f"--before: not an ISO date or time: {args.before!r}")
    except (OSError, ChainKeyError, PurgeRefused) as exc:
        return _fail(str(exc))
    verb = "would delete" if args.dry_run else "deleted"
    if not result.files:
        print(f"nothing to purge: no rotated file ends before {before.isoformat()}")
    else:
        print(f"{verb} {len(result.files)} file(s), {result.lines} lines, up to seq {result.anchor.seq}:")  # type: ignore[union-attr]
        for path in result.files:
            print(f"  {path}")
    return 0


def _seen(args: argparse.Namespace) -> int:
    from llm_dlp.audit.query import json_lines, seen, seen_table
    from llm_dlp.keys import KEY_FILE, load_or_create_hasher

    if not (args.confdir / KEY_FILE).exists():  # a fresh key would never match anything
        return _fail(f"no value-hash key at {args.confdir / KEY_FILE} (use --confdir)")
    value = sys.stdin.read().rstrip("\r\n") if args.value == "-" else args.value
    fingerprint = load_or_create_hasher(args.confdir).fingerprint(value)
    try:
        found = list(seen(_files(args), fingerprint))
    except OSError as exc:
        return _fail(str(exc))
    if args.json:
        for line in json_lines(s.entry for s in found):
            print(line)
    elif found:
        # A finding is recorded once per conversation: later turns that carried it again count
        # it under findings_already_recorded, so this is the requests it first appeared in.
        print(f"seen in {len(found)} request(s) as {fingerprint}:")
        print(seen_table(found))
    else:
        print(f"not seen ({fingerprint})")
    return 0 if found else 1
