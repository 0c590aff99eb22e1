"""The audit chain's parts stand alone: structlog can drive them, and verify accepts what they seal."""

from __future__ import annotations

import datetime as dt

import structlog

from llm_dlp.audit.chain import load_or_create_chain_key
from llm_dlp.audit.events import AuditedFinding, DecisionEvent, RestoreEvent
from llm_dlp.audit.processors import ChainLink, TimeStamper, render_json
from llm_dlp.audit.recorded import RecordedFindings
from llm_dlp.audit.verify import verify

START = dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC)


class Lines:
    """A structlog "logger" that keeps what it is given: a sink that only writes."""

    def __init__(self) -> None:
        self.written: list[str] = []

    def msg(self, line: str) -> None:
        self.written.append(line)

    info = msg


def test_structlog_drives_the_processors_into_a_chain_verify_accepts(tmp_path):
    key = load_or_create_chain_key(tmp_path / "certs")
    link, recorded, sink = ChainLink(key), RecordedFindings(), Lines()
    ticks = iter(START + dt.timedelta(seconds=s) for s in range(100))
    logger = structlog.wrap_logger(sink, processors=[TimeStamper(lambda: next(ticks)), recorded, link.link, render_json,
                                                     link.seal])
    finding = {"kind": "secret", "rule": "r", "location": "$.m[0]", "action": "redact", "value_hash": "hmac-sha256:ab"}
    restore = RestoreEvent("r1", "t", "h", "/p", {"secret": 1}, {})
    for event, fields in (("dlp.decision", {"tenant": "t", "user": "u", "findings": [finding]}),
                          ("dlp.decision", {"tenant": "t", "user": "u", "findings": [finding]}),
                          (restore.name, restore.fields())):
        logger.info(event, **fields)
        link.commit()  # the sink wrote it: the chain and the memory of findings move on
        recorded.commit()
    path = tmp_path / "audit.jsonl"
    path.write_text("".join(line + "\n" for line in sink.written))
    result = verify([path], key)
    assert result.ok and result.lines == 3
    assert sink.written[0].startswith('{"time": "2026-03-01T08:30:00.000000Z", "event": "dlp.decision"')
    assert '"findings": [], "findings_already_recorded": 1' in sink.written[1]


def test_a_line_sealed_but_not_committed_is_not_linked_to(tmp_path):
    """A write that failed leaves the chain where it was: the next line takes the same seq."""
    key = load_or_create_chain_key(tmp_path / "certs")
    link = ChainLink(key)
    first = link.seal(None, "info", render_json(None, "info", link.link(None, "info", {"event": "a"})))
    second = link.seal(None, "info", render_json(None, "info", link.link(None, "info", {"event": "b"})))
    link.commit()
    path = tmp_path / "audit.jsonl"
    path.write_text(second + "\n")
    assert '"seq": 1' in first and '"seq": 1' in second
    assert verify([path], key).ok and link.state.seq == 1


def test_a_decision_event_names_its_fields_and_leaves_defaults_out():
    copies = [{"repository": f"r{i}", "path": "p", "line_start": 1, "line_end": 9} for i in range(7)]
    finding = AuditedFinding(kind="proprietary_code", rule="core", location="$.m[2]", action="block",
                             value_hash="hmac-sha256:cd", preview="…(900 chars)", detector="proprietary_code",
                             details={"copies": copies, "copies_total": 7})
    event = DecisionEvent(request_id="r", tenant="t", user=None, client=None, method="POST", host="h", path="/p",
                          provider="anthropic", format=None, model=None, decision="block", mode="enforce", status=403,
                          reason="no", error=None, findings=(finding,), body_bytes=10, scan_ms=1.0)
    [written] = event.fields()["findings"]
    assert "count" not in written and "detector" not in written and "policy_rule" not in written
    assert len(written["details"]["copies"]) == 3 and written["details"]["copies_total"] == 7
    assert "groups" not in event.fields() and "shadow" not in event.fields()
