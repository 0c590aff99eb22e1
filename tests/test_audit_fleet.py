"""The audit logs of several proxy instances: each its own chain, read together.

Two real ``AuditLog`` writers with the deployment's one chain key (a fleet shares its confdir
contents) write interleaved decisions to their own files, rotating on the way. ``llm-dlp audit``
must verify each chain on its own and merge the events; before per-instance chains, the second
log read after the first was reported as a broken chain.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from llm_dlp.audit.chain import load_or_create_chain_key
from llm_dlp.audit.log import AuditLog
from llm_dlp.audit.rotation import Rotation, resolve_chains
from llm_dlp.cli import main

PER_INSTANCE = 40


class Clock:
    """Both writers read one clock, so their lines interleave in time as a fleet's do."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


@pytest.fixture
def fleet_logs(tmp_path) -> tuple[list[Path], Path]:
    confdir = tmp_path / "certs"
    load_or_create_chain_key(confdir)
    clock = Clock()
    paths = [tmp_path / "edge-1" / "audit.jsonl", tmp_path / "edge-2" / "audit.jsonl"]
    writers = [AuditLog(path, confdir=confdir, clock=clock, rotation=Rotation(max_bytes=2000, daily=False),
                        head_dir=confdir, instance=f"edge-{n}") for n, path in enumerate(paths, 1)]
    for i in range(PER_INSTANCE):
        for n, writer in enumerate(writers, 1):
            writer.write("dlp.decision", request_id=f"{n}-{i}", tenant="default", user=None, host="api.anthropic.com",
                         path="/v1/messages", provider="anthropic", decision="allow" if i % 4 else "redact",
                         findings=[], body_bytes=100, scan_ms=1.0)
    for writer in writers:
        writer.close()
    return paths, confdir


def _cli(capsys, *args: str) -> tuple[int, str]:
    code = main(["audit", *args])
    return code, capsys.readouterr().out


def test_each_line_names_its_instance_and_each_log_is_one_chain(fleet_logs):
    paths, _ = fleet_logs
    chains = resolve_chains([str(p) for p in paths])
    assert len(chains) == 2 and all(len(files) > 1 for files in chains)  # rotated along the way
    for n, files in enumerate(chains, 1):
        instances = {json.loads(line)["instance"] for f in files for line in f.read_text().splitlines()}
        assert instances == {f"edge-{n}"}


def test_verify_checks_each_instance_chain_on_its_own(fleet_logs, capsys):
    paths, confdir = fleet_logs
    code, out = _cli(capsys, "verify", *map(str, paths), "--confdir", str(confdir))
    assert code == 0, out
    assert out.startswith("OK: 2 chains") and "instance edge-1" in out and "instance edge-2" in out

    code, out = _cli(capsys, "verify", "--json", *map(str, paths), "--confdir", str(confdir))
    result = json.loads(out)
    assert result["ok"] and [c["instances"] for c in result["chains"]] == [["edge-1"], ["edge-2"]]
    assert sum(c["lines"] for c in result["chains"]) == 2 * PER_INSTANCE

    # A line removed from one instance's log is found in that log, and only there.
    current = paths[1]
    lines = current.read_text().splitlines(keepends=True)
    current.write_text("".join(lines[:1] + lines[2:]))
    code, out = _cli(capsys, "verify", *map(str, paths), "--confdir", str(confdir))
    assert code == 1
    failed = [line for line in out.splitlines() if "FAILED" in line]
    assert failed[0].startswith("FAILED: 2 chains") and len(failed) == 2 and str(current) in failed[1]


def test_query_summary_and_report_merge_the_instances(fleet_logs, capsys, tmp_path):
    paths, confdir = fleet_logs
    code, out = _cli(capsys, "query", "--json", *map(str, paths))
    assert code == 0
    events = [json.loads(line) for line in out.splitlines()]
    assert len(events) == 2 * PER_INSTANCE
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)  # merged by time
    assert {e["instance"] for e in events[:2]} == {"edge-1", "edge-2"}  # interleaved, not one log then the other

    code, out = _cli(capsys, "summary", "--json", *map(str, paths))
    summary = json.loads(out)
    assert summary["requests"] == 2 * PER_INSTANCE
    assert summary["decisions"] == {"allow": 2 * (PER_INSTANCE - PER_INSTANCE // 4), "redact": 2 * (PER_INSTANCE // 4)}

    report = tmp_path / "report.html"
    code, _ = _cli(capsys, "report", "--html", str(report), *map(str, paths), "--confdir", str(confdir))
    html = report.read_text()
    assert code == 0 and "BROKEN" not in html
    assert "2 chains (instances: edge-1, edge-2), each verified on its own" in html
