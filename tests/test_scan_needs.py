"""Detectors a policy cannot use are not run, and the findings cache stays safe with that.

Specification: under ``default_action: allow`` a kind that no rule and no destinations rule
names is not detected (its findings could only be allowed without a trace); the cache keeps
each detector's findings apart, so a policy that starts needing a kind gets that detector run on
texts the cache already holds (and only that detector), and the verdicts are those of a pipeline
with no cache at all; a policy with ``log`` as default, a rule on ``*``, or a shadow policy that
needs a kind keeps its detector running.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from detectors.base import Finding
from llm_dlp.detection import build_detectors, kinds_needed
from llm_dlp.keys import ValueHasher
from llm_dlp.pipeline import Pipeline, RequestInfo
from llm_dlp.policy.loader import load_policy_dir
from llm_dlp.policy.model import Action, Destinations, KindRoute, Places, Policy, Reroute, Rule
from llm_dlp.providers import Segment
from llm_dlp.scan_cache import FindingsCache, MemoryFindings, RedisFindings
from llm_dlp.scan_workers import SegmentScanner
from llm_dlp.testing import secrets_factory as make

INFO = RequestInfo("r", "POST", "api.example", "/v1/messages", "anthropic")
HASHER = ValueHasher(b"k" * 32)
CODE = "".join(f"def handler_{i}(event):\n    total = compute(event['items'], {i})\n    return {{'total': total}}\n"
               for i in range(6))
SECRET = make.aws_secret_access_key()  # one value: every body() of a test is the same bytes
NO_CODE = "default_action: allow\nrules:\n  - kind: secret\n    action: redact\n  - kind: pii\n    action: redact\n"
WITH_CODE = NO_CODE + "  - kind: code\n    action: log\n"


@pytest.fixture(scope="module")
def detectors():
    return build_detectors()


class Counting:
    """A real detector, counting the texts it is asked to scan."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name, self.kinds, self.takes_path_hint = inner.name, inner.kinds, False
        self.texts: list[str] = []

    def scan(self, text: str) -> list[Finding]:
        self.texts.append(text)
        return self.inner.scan(text)


def policies(tmp_path: Path, text: str, name: str = "p"):
    directory = tmp_path / name
    directory.mkdir(exist_ok=True)
    (directory / "default.yaml").write_text(text)
    return load_policy_dir(directory)


def body(turns: int = 2) -> bytes:
    messages = [{"role": "user", "content": f"Why does this fail? Mail jane.doe@example.com\n\n{CODE}"}]
    for turn in range(1, turns):
        messages += [{"role": "assistant", "content": f"Look at turn {turn}."},
                     {"role": "user", "content": f"aws_secret_access_key = {SECRET}\n{CODE}"}]
    return json.dumps({"model": "m", "max_tokens": 5, "messages": messages}).encode()


def _policy(default: Action, *rules: Rule, destinations: Destinations = Destinations()) -> Policy:
    return Policy(name="t", source="test", rules=rules, default_action=default, destinations=destinations)


def test_a_kind_is_needed_where_a_rule_or_a_destinations_rule_names_it_or_the_default_records_it():
    assert kinds_needed([_policy(Action.LOG)]) is None  # log audits every finding
    assert kinds_needed([_policy(Action.ALLOW, Rule(Action.LOG, kind="*"))]) is None
    assert kinds_needed([_policy(Action.ALLOW, Rule(Action.REDACT, kind="secret"))]) == {"secret"}
    # whatever the rule's action: its findings are audited
    assert kinds_needed([_policy(Action.ALLOW, Rule(Action.ALLOW, kind="code"))]) == {"code"}
    routed = Destinations(kinds=(KindRoute("proprietary_code", Places(regions=("self-hosted",))),),
                          reroute=(Reroute("openai", "https://llm.example", kinds=("pii",)),))
    assert kinds_needed([_policy(Action.ALLOW, destinations=routed)]) == {"proprietary_code", "pii"}
    # several policies (a tenant and its shadow): the union, or every kind if one needs it
    assert kinds_needed([_policy(Action.ALLOW, Rule(Action.REDACT, kind="secret")),
                         _policy(Action.ALLOW, Rule(Action.LOG, kind="code"))]) == {"secret", "code"}
    assert kinds_needed([_policy(Action.ALLOW), _policy(Action.BLOCK)]) is None


def test_the_code_detectors_do_not_run_for_a_policy_with_no_use_for_code(detectors, tmp_path):
    counting = [Counting(d) for d in detectors]
    pipeline = Pipeline(policies(tmp_path, NO_CODE), counting, HASHER)
    verdict = pipeline.inspect(INFO, body()).verdict
    ran = {c.name: bool(c.texts) for c in counting}
    assert ran == {"secrets": True, "pii": True, "code": False, "proprietary_code": False}
    assert {f.kind for f in verdict.findings} == {"secret", "pii"}


def test_a_policy_that_starts_needing_code_gets_it_scanned_on_cached_texts_at_once(detectors, tmp_path):
    counting = [Counting(d) for d in detectors]
    cache = FindingsCache(HASHER, counting, MemoryFindings())
    cached = Pipeline(policies(tmp_path, NO_CODE), counting, HASHER, scanner=SegmentScanner(counting, cache))
    cached.inspect(INFO, body())
    assert not counting[2].texts
    for c in counting:
        c.texts.clear()
    cached.policies = policies(tmp_path, WITH_CODE, "edited")  # a hot reload
    with_code = cached.inspect(INFO, body())
    # the code detector read every text now; the others read none again (their findings cached)
    assert CODE in "".join(counting[2].texts)
    assert counting[0].texts == [] and counting[1].texts == []
    fresh = Pipeline(cached.policies, detectors, HASHER).inspect(INFO, body())
    assert with_code.verdict.findings == fresh.verdict.findings
    assert any(f.kind == "code" for f in with_code.verdict.findings)
    # and back: a policy that stops needing code drops its findings from the decision at once
    cached.policies = policies(tmp_path, NO_CODE, "again")
    assert not any(f.kind == "code" for f in cached.inspect(INFO, body()).verdict.findings)


def test_a_shadow_policy_that_needs_code_keeps_the_code_detector_running(detectors, tmp_path):
    counting = [Counting(d) for d in detectors]
    pipeline = Pipeline(policies(tmp_path, NO_CODE), counting, HASHER, shadow=policies(tmp_path, WITH_CODE, "shadow"))
    inspection = pipeline.inspect(INFO, body())
    assert counting[2].texts
    # the active policy allows them, as it did every finding of every kind before detectors were skipped
    assert all(f.action == "allow" for f in inspection.verdict.findings if f.kind == "code")
    assert inspection.verdict.shadow and any(f["kind"] == "code" for f in inspection.verdict.shadow["findings"])


def test_every_kind_runs_under_the_bundled_default_which_logs_every_finding(detectors):
    counting = [Counting(d) for d in detectors]
    Pipeline(load_policy_dir(Path(__file__).resolve().parent.parent / "policies"), counting, HASHER).inspect(INFO, body())
    assert all(c.texts for c in counting)


class FakeRedis:
    def __init__(self) -> None:
        self.items: dict[str, bytes] = {}

    def mget(self, keys):
        return [self.items.get(key) for key in keys]

    def pipeline(self, transaction=True):
        return self

    def set(self, key, value, px=None):
        self.items[key] = value

    def execute(self):
        return []


def test_a_shared_entry_holds_each_detectors_findings_and_is_completed_by_a_proxy_that_needs_more(detectors):
    text = f"aws_secret_access_key = {make.aws_secret_access_key()}\nMail jane.doe@example.com\n{CODE}"
    segment = Segment(("m",), text, "user")
    shared = FakeRedis()
    first = [Counting(d) for d in detectors]
    SegmentScanner(first, FindingsCache(HASHER, first, RedisFindings("", HASHER, client=shared))).find([segment], {"secret"})
    assert [bool(c.texts) for c in first] == [True, False, False, False]
    other = [Counting(d) for d in detectors]
    found = SegmentScanner(other, FindingsCache(HASHER, other, RedisFindings("", HASHER, client=shared))).find([segment])
    # secrets came from the shared entry; the three detectors it lacked ran
    assert [bool(c.texts) for c in other] == [False, True, True, True]
    assert [(f.kind, f.rule, f.start, f.end) for f in found[0]] == \
           [(f.kind, f.rule, f.start, f.end) for f in SegmentScanner(detectors).find([segment])[0]]
    assert {f.kind for f in found[0]} >= {"secret", "pii", "code"}
