"""``audit query`` and ``summary`` on a 100,000-line log, checked against a plain re-count of what was written."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest

from llm_dlp.audit.chain import load_or_create_chain_key, mac_of, open_line
from llm_dlp.audit.query import Filter, select
from llm_dlp.audit.rotation import parse_time
from llm_dlp.audit.summary import summarize
from llm_dlp.audit.synthetic import SyntheticLog, generate
from llm_dlp.cli import main

LINES = 100_000


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> tuple[SyntheticLog, Path]:
    directory = tmp_path_factory.mktemp("audit-big")
    confdir = directory / "certs"
    log = generate(directory / "audit.jsonl", LINES, load_or_create_chain_key(confdir))
    return log, confdir


def expected(records: list[dict], where: Filter) -> list[int]:
    """The seqs a query must return, decided without any of the code under test."""
    def finding_ok(f: dict) -> bool:
        return (not where.kinds or f["kind"] in where.kinds) and (not where.rules or f["rule"] in where.rules)

    seqs = []
    for seq, r in enumerate(records, 1):
        when = parse_time(r["time"])
        if where.since and when < where.since or where.until and when >= where.until:
            continue
        if any(wanted and r[name] not in wanted for name, wanted in [
            ("tenant", where.tenants), ("user", where.users), ("decision", where.decisions),
            ("host", where.hosts), ("model", where.models), ("event", where.events)]):
            continue
        if (where.kinds or where.rules) and not any(finding_ok(f) for f in r["findings"]):
            continue
        seqs.append(seq)
    return seqs


def _time(records: list[dict], index: int) -> dt.datetime:
    return parse_time(records[index]["time"])


FILTERS = {
    "tenant-not-its-prefix": lambda rs: Filter(tenants=frozenset({"acme"})),
    "any-of-two-tenants": lambda rs: Filter(tenants=frozenset({"acme", "acme-eu"})),
    "user-named-like-a-tenant": lambda rs: Filter(users=frozenset({"pilot"})),
    "decision": lambda rs: Filter(decisions=frozenset({"block"})),
    "monitor-mode-decision": lambda rs: Filter(decisions=frozenset({"would_block"})),
    "kind": lambda rs: Filter(kinds=frozenset({"code"})),
    "kind-and-rule-on-one-finding": lambda rs: Filter(kinds=frozenset({"pii"}), rules=frozenset({"iban"})),
    "rule-of-another-kind": lambda rs: Filter(kinds=frozenset({"secret"}), rules=frozenset({"email"})),
    "host-and-model": lambda rs: Filter(hosts=frozenset({"gateway.internal"}), models=frozenset({"claude-haiku"})),
    "exact-time-bounds": lambda rs: Filter(since=_time(rs, 1000), until=_time(rs, 2000)),
    "time-range-in-another-zone": lambda rs: Filter(
        since=_time(rs, 50_000).astimezone(dt.timezone(dt.timedelta(hours=-5))), until=_time(rs, 50_500)),
    "everything-at-once": lambda rs: Filter(
        since=_time(rs, 10_000), until=_time(rs, 90_000), tenants=frozenset({"default", "pilot"}),
        decisions=frozenset({"redact", "log"}), kinds=frozenset({"secret"}), users=frozenset({"alice", "bob"})),
    "nothing-matches": lambda rs: Filter(tenants=frozenset({"nobody"})),
}


@pytest.mark.parametrize("name", FILTERS)
def test_query_filters_match_a_recount(big, name):
    log, _confdir = big
    where = FILTERS[name](log.records)
    assert [entry.seq for entry in select([log.path], where)] == expected(log.records, where)


def test_exact_time_bounds_are_inclusive_then_exclusive(big):
    log, _confdir = big
    where = FILTERS["exact-time-bounds"](log.records)
    assert len(list(select([log.path], where))) == 1000


def test_query_cli_prints_lines_as_written_and_still_sealed(big, capsys):
    log, confdir = big
    args = ["audit", "query", str(log.path), "--tenant", "acme-eu", "--decision", "error", "--host", "api.openai.com",
            "--since", "2025-03-20", "--until", "2025-03-21", "--json"]
    assert main(args) == 0
    printed = capsys.readouterr().out.splitlines()
    where = Filter(since=parse_time("2025-03-20"), until=parse_time("2025-03-21"), tenants=frozenset({"acme-eu"}),
                   decisions=frozenset({"error"}), hosts=frozenset({"api.openai.com"}))
    assert [json.loads(line)["seq"] for line in printed] == expected(log.records, where)
    assert printed
    key = load_or_create_chain_key(confdir)
    for line in printed:  # an extract handed to someone else can still be checked line by line
        sealed = open_line(line.encode())
        assert mac_of(key, sealed.body) == sealed.mac


def test_query_cli_table_shows_the_newest_lines(big, capsys):
    log, _confdir = big
    assert main(["audit", "query", str(log.path), "--decision", "block", "--limit", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["time", "tenant", "user", "decision", "status", "host", "model", "findings"]
    rows = out[2:]
    assert len(rows) == 3 and all(" block " in row and " 403 proxy " in row for row in rows)
    last_block = next(r for r in reversed(log.records) if r["decision"] == "block")
    assert rows[-1].startswith(parse_time(last_block["time"]).strftime("%Y-%m-%d %H:%M:%S"))


def test_summary_counts_match_a_recount(big, capsys):
    log, _confdir = big
    summary = summarize(select([log.path], Filter()))
    records = log.records
    assert summary.requests == LINES
    assert summary.decisions == Counter(r["decision"] for r in records)
    assert summary.tenants == Counter(r["tenant"] for r in records)
    assert summary.kinds == Counter({k: sum(f["count"] for r in records for f in r["findings"] if f["kind"] == k)
                                     for k in {"secret", "pii", "code"}})
    users = Counter(r["user"] or "(anonymous)" for r in records)
    assert summary.users.most_common(3) == users.most_common(3)
    assert sum(summary.tenant_decisions["acme"].values()) == summary.tenants["acme"]

    assert main(["audit", "summary", str(log.path), "--tenant", "pilot", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["requests"] == sum(1 for r in records if r["tenant"] == "pilot")
    assert set(printed["tenants"]) == {"pilot"}
