"""Every forwarded request's upstream answer has its own line; the review commands join it to its
decision by ``request_id``: one row per request in ``query``, an ``upstream`` column in ``seen``,
answers by status in ``summary`` and the report."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from llm_dlp.audit.chain import load_or_create_chain_key
from llm_dlp.audit.events import ResponseEvent
from llm_dlp.audit.log import AuditLog
from llm_dlp.audit.query import Filter, request_rows, select, seen
from llm_dlp.audit.summary import summarize
from llm_dlp.cli import main
from llm_dlp.keys import load_or_create_hasher

START = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)


def finding(value_hash: str, action: str = "redact", message: int = 0) -> dict:
    return {"kind": "secret", "rule": "aws-access-token", "location": f"$.messages[{message}].content", "action": action,
            "value_hash": value_hash, "preview": "AKIA…(20 chars)"}


@pytest.fixture
def log(tmp_path):
    """Five requests: answered 200, answered 529, failed upstream, blocked by the proxy, and one
    still open (no answer line); two of them carry the same value; answers interleave."""
    confdir = tmp_path / "certs"
    fingerprint = load_or_create_hasher(confdir).fingerprint("AKIAEXAMPLEEXAMPLE12")
    ticks = iter(range(100))
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path, key=load_or_create_chain_key(confdir), clock=lambda: START + dt.timedelta(seconds=next(ticks)))

    def decision(request_id: str, user: str, decision: str = "allow", status: int | None = None, findings=()) -> None:
        audit.write("dlp.decision", request_id=request_id, tenant="default", user=user, host="api.anthropic.com",
                    path="/v1/messages", model="claude-test", decision=decision, status=status,
                    findings=list(findings))

    def answer(request_id: str, user: str, status: int | None, error: str | None = None) -> None:
        audit.record_event(ResponseEvent(request_id, "default", user, "api.anthropic.com", "/v1/messages", status,
                                         error, 900.0))

    decision("r1", "alice", "redact", findings=[finding(fingerprint)])
    decision("r2", "bob")
    answer("r1", "alice", 200)  # answers come back in any order
    answer("r2", "bob", 529)
    decision("r3", "alice", "redact", findings=[finding(fingerprint, message=2)])  # pasted again: a new finding
    answer("r3", "alice", None, "Server connection to api.anthropic.com failed: Connection refused")
    decision("r4", "bob", "block", 403, findings=[finding("hmac-sha256:other", "block")])
    decision("r5", "carol")
    audit.close()
    return path, confdir


def test_a_request_and_its_answer_are_one_row(log):
    path, _ = log
    rows = request_rows(select([path], Filter()))
    assert [(row.entry.request_id, row.status) for row in rows] == [
        ("r1", "200"), ("r2", "529"), ("r3", "failed"), ("r4", "403 proxy"), ("r5", "-")]


def test_an_answer_whose_decision_is_not_selected_keeps_its_own_row(log):
    path, _ = log
    later = select([path], Filter(since=START + dt.timedelta(seconds=2)))
    rows = request_rows(later)
    assert [(row.entry.event, row.entry.request_id, row.status) for row in rows][:2] == [
        ("dlp.response", "r1", "200"), ("dlp.response", "r2", "529")]


def test_query_table_and_limit_count_requests(log, capsys):
    path, _ = log
    assert main(["audit", "query", str(path), "--limit", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["time", "tenant", "user", "decision", "status", "host", "model", "findings"]
    assert len(out[2:]) == 2 and " 403 proxy " in out[2] and " block " in out[2] and " carol " in out[3]
    assert main(["audit", "query", str(path), "--user", "alice"]) == 0
    rows = capsys.readouterr().out.splitlines()[2:]
    assert len(rows) == 2 and " 200 " in rows[0] and " failed " in rows[1]
    assert main(["audit", "query", str(path), "--json", "--limit", "2"]) == 0  # with --json: lines as written
    assert [json.loads(line)["request_id"] for line in capsys.readouterr().out.splitlines()] == ["r4", "r5"]


def test_summary_counts_answers_by_status_and_the_unanswered(log, capsys):
    path, _ = log
    summary = summarize(select([path], Filter()))
    assert summary.requests == 5 and summary.answers == {"200": 1, "529": 1, "no answer": 1}
    assert summary.forwarded == 4 and summary.unanswered == 1 and "dlp.response" not in summary.other_events
    assert main(["audit", "summary", str(path)]) == 0
    text = capsys.readouterr().out
    assert "upstream answers (status):" in text and "1 forwarded requests without an answer line" in text
    assert main(["audit", "summary", str(path), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["answers"] == {"200": 1, "529": 1, "no answer": 1} and printed["unanswered"] == 1


def test_seen_says_what_upstream_answered_the_requests_that_held_the_value(log, capsys):
    path, confdir = log
    fingerprint = load_or_create_hasher(confdir).fingerprint("AKIAEXAMPLEEXAMPLE12")
    sightings = seen([path], fingerprint)
    assert [(s.entry.request_id, s.answer.status if s.answer else None) for s in sightings] == [("r1", 200), ("r3", None)]
    assert main(["audit", "seen", "AKIAEXAMPLEEXAMPLE12", str(path), "--confdir", str(confdir)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "upstream" in out[1] and " 200 " in out[3] and " failed " in out[4]


def test_the_report_shows_upstream_answers(log, tmp_path, capsys):
    path, confdir = log
    page = tmp_path / "report.html"
    assert main(["audit", "report", str(path), "--html", str(page), "--confdir", str(confdir)]) == 0
    html = page.read_text()
    table = html[html.index('id="upstream-answers"'):html.index("</table>", html.index('id="upstream-answers"'))]
    assert "<td>529</td><td>1</td>" in table and "<td>no answer</td><td>1</td>" in table
    assert "forwarded, no answer line</td><td>1</td>" in table
