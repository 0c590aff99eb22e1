"""The one policy engine: exceptions first, then the first rule that holds, min_count per request."""

from __future__ import annotations

from detectors.base import Finding
from llm_dlp.policy import engine
from llm_dlp.policy.engine import FoundValue
from llm_dlp.policy.model import Action, Exceptions, Policy, Rule
from llm_dlp.request import header_verdict, request_info
from llm_dlp.verdict import Verdict, unaudited

POLICY = Policy(
    name="acme", source="test",
    rules=(Rule(Action.BLOCK, kind="pii", min_count=3, source="acme.yaml:4"), Rule(Action.REDACT, kind="secret", source="acme.yaml:7")),
    exceptions=Exceptions(rules=("github-pat",)),
)


def found(kind: str, rule: str, value: str = "value") -> FoundValue:
    return FoundValue(Finding(kind, rule, 0, len(value), 0.9), value, f"hmac-sha256:{value}")


def actions(policy: Policy, hits: list[FoundValue]) -> list[tuple[str, str, str | None]]:
    return sorted((d.hit.finding.rule, d.action.label, d.reason) for d in engine.decide(policy, hits))


def test_a_rule_with_min_count_applies_only_from_that_many_findings():
    two = [found("pii", "EMAIL_ADDRESS", f"{n}@example.org") for n in "ab"]
    assert {a for _, a, _ in actions(POLICY, two)} == {"log"}  # fell through to the default
    three = two + [found("pii", "EMAIL_ADDRESS", "c@example.org")]
    assert actions(POLICY, three) == [("EMAIL_ADDRESS", "block", "acme.yaml:4")] * 3


def test_exceptions_come_before_every_rule():
    decided = engine.decide(POLICY, [found("secret", "github-pat"), found("secret", "aws-access-token")])
    assert [(d.hit.finding.rule, d.action, d.exempt) for d in decided] == [
        ("github-pat", Action.ALLOW, True), ("aws-access-token", Action.REDACT, False)]


def test_a_signed_body_that_needs_redacting_is_blocked_and_monitor_mode_only_says_so():
    decided = engine.decide(POLICY, [found("secret", "aws-access-token")])
    assert engine.request_action(decided) == Action.REDACT
    assert engine.request_action(decided, body_signed=True) == Action.BLOCK
    monitor = Policy(name="m", source="test", rules=(), mode="monitor")
    assert engine.decision_label(monitor, Action.BLOCK) == "would_block"
    assert engine.decision_label(monitor, Action.LOG) == "log"


def test_request_facts_and_header_decisions_come_from_plain_values():
    common = dict(request_id="r", method="POST", host="bedrock-runtime.us-east-1.amazonaws.com", path="/model/x/invoke",
                  provider="bedrock")
    signed = request_info(**common, headers={"authorization": "AWS4-HMAC-SHA256 Credential=AKIA.../bedrock/aws4_request"})
    assert signed.body_signed and header_verdict(signed, POLICY) is None
    upgrade = request_info(**common, headers={"upgrade": "WebSocket"})
    assert header_verdict(upgrade, POLICY).status == 403
    big = request_info(**common, headers={"content-length": str(POLICY.max_body_bytes + 1)})
    refused = header_verdict(big, POLICY)
    assert (refused.status, refused.body_bytes) == (413, POLICY.max_body_bytes + 1)


def test_an_unaudited_request_fails_closed_unless_the_policy_fails_open():
    allowed = Verdict("allow", "acme")
    closed = unaudited(allowed, POLICY, "disk full")
    assert (closed.decision, closed.status, closed.error) == ("error", 500, "disk full")
    fails_open = Policy(name="acme", source="test", rules=(), on_error="allow")
    assert unaudited(allowed, fails_open, "disk full") is allowed
