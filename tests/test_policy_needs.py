"""A detector runs only when the active policy can do something with its kinds."""

from __future__ import annotations

import json
from pathlib import Path

from detectors.base import Finding
from detectors.code import CodeDetector
from detectors.secrets import SecretDetector
from llm_dlp.keys import ValueHasher
from llm_dlp.pipeline import Pipeline, RequestInfo
from llm_dlp.policy.loader import load_policy_dir
from llm_dlp.policy.model import Action, Policy, Rule
from llm_dlp.policy.needs import detector_needed, needed_kinds

CODE = "def handler(event):\n    total = compute(event['items'])\n    return {'total': total}\n"


class CountingCodeDetector(CodeDetector):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def scan(self, text: str, *, path_hint: str | None = None) -> list[Finding]:
        self.calls += 1
        return super().scan(text, path_hint=path_hint)


def _policy(default: Action, *rules: Rule) -> Policy:
    return Policy(name="t", source="test", rules=rules, default_action=default)


def test_every_kind_is_needed_unless_the_default_allows():
    assert needed_kinds(_policy(Action.LOG)) is None  # log audits every finding
    assert needed_kinds(_policy(Action.BLOCK, Rule(Action.REDACT, kind="secret"))) is None
    assert needed_kinds(_policy(Action.ALLOW, Rule(Action.REDACT, kind="secret"))) == {"secret"}
    # A rule names its kind whatever its action: its findings are still audited.
    assert needed_kinds(_policy(Action.ALLOW, Rule(Action.ALLOW, kind="code"), Rule(Action.BLOCK, kind="secret"))) == {"code", "secret"}
    assert needed_kinds(_policy(Action.ALLOW, Rule(Action.LOG, kind="*"))) is None
    assert needed_kinds(_policy(Action.ALLOW)) == frozenset()


def test_a_detector_is_needed_for_any_of_its_kinds():
    code = CodeDetector()
    assert detector_needed(code, None)
    assert detector_needed(code, frozenset({"code", "pii"}))
    assert not detector_needed(code, frozenset({"secret"}))


def _inspect(tmp_path: Path, policy_yaml: str, detector: CountingCodeDetector):
    directory = tmp_path / "policies"
    directory.mkdir(exist_ok=True)
    (directory / "default.yaml").write_text(policy_yaml)
    pipeline = Pipeline(load_policy_dir(directory), [SecretDetector(), detector], ValueHasher(b"k" * 32))
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": f"Why does this fail?\n\n{CODE}"}]}).encode()
    return pipeline.inspect(RequestInfo("r", "POST", "h", "/v1/messages", "anthropic"), body).verdict


def test_the_pipeline_skips_the_code_detector_when_the_policy_ignores_code(tmp_path):
    skipped = CountingCodeDetector()
    verdict = _inspect(tmp_path, "default_action: allow\nrules:\n  - kind: secret\n    action: redact\n", skipped)
    assert skipped.calls == 0
    assert not any(record.kind == "code" for record in verdict.findings)

    audited = CountingCodeDetector()  # under default_action: log, code findings are audited
    verdict = _inspect(tmp_path, "default_action: log\nrules:\n  - kind: secret\n    action: redact\n", audited)
    assert audited.calls > 0
    assert any(record.kind == "code" for record in verdict.findings)
