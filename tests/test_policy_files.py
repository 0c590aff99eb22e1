"""Policy files: the bundled ones load, and every mistake names file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.secrets import Rule, SecretDetector
from llm_dlp.detection import DetectorRegistry
from detectors.base import Finding
from llm_dlp.policy import engine
from llm_dlp.policy.engine import FoundValue
from llm_dlp.policy.loader import PolicyError, load_policy, load_policy_dir
from llm_dlp.policy.model import Action, Policy
from llm_dlp.testing.proxyrun import REPO

def action_alone(policy: Policy, kind: str, rule: str, confidence: float, details: dict | None = None) -> Action:
    """The action the policy engine gives one finding when it is the request's only one."""
    finding = Finding(kind, rule, 0, 5, confidence, details=details or {})
    [decided] = engine.decide(policy, [FoundValue(finding, "value", "hmac-sha256:00")])
    return decided.action


GOOD_RULES = "rules:\n  - kind: secret\n    action: redact\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def test_bundled_policies_load_and_say_what_the_issue_promises():
    policies = load_policy_dir(REPO / "policies")
    default = policies.default
    assert action_alone(default, "secret", "private-key", 1.0) == Action.WITHHOLD
    assert action_alone(default, "secret", "aws-access-token", 0.9) == Action.REDACT
    assert action_alone(default, "pii", "PII_RECORDS", 1.0, {"records": 30}) == Action.WITHHOLD
    assert action_alone(default, "pii", "PII_RECORDS", 1.0, {"records": 3}) == Action.LOG
    assert action_alone(default, "pii", "EMAIL_ADDRESS", 0.9) == Action.REDACT
    assert action_alone(default, "proprietary_code", "acme", 1.0, {"lines": 21}) == Action.WITHHOLD
    assert action_alone(default, "proprietary_code", "acme", 1.0, {"lines": 20}) == Action.LOG
    assert action_alone(default, "code", "python", 1.0) == Action.LOG
    assert all(default.restores(kind, "tool_arguments") for kind in ("secret", "pii", "code", "proprietary_code"))
    assert not default.restores("pii", "text")


def test_tenant_is_chosen_by_user_then_network_then_default(tmp_path):
    write(tmp_path, "default", GOOD_RULES)
    write(tmp_path, "finance", "members:\n  users: [carol]\n  networks: [10.20.0.0/16]\n" + GOOD_RULES)
    write(tmp_path, "eng", "members:\n  users: [alice]\n" + GOOD_RULES)
    policies = load_policy_dir(tmp_path)
    assert policies.for_client("alice", "10.20.1.1").name == "eng"
    assert policies.for_client(None, "10.20.1.1").name == "finance"
    assert policies.for_client(None, "::ffff:10.20.3.4").name == "finance"
    assert policies.for_client("mallory", "192.168.1.1").name == "default"


def test_first_matching_rule_decides_and_confidence_gates(tmp_path):
    path = write(tmp_path, "default", """
rules:
  - kind: secret
    rule: [private-key, aws-secret-access-key]
    action: block
  - kind: secret
    min_confidence: 0.8
    action: redact
default_action: log
""")
    policy = load_policy(path)
    assert action_alone(policy, "secret", "aws-secret-access-key", 0.1) == Action.BLOCK
    assert action_alone(policy, "secret", "github-pat", 0.9) == Action.REDACT
    assert action_alone(policy, "secret", "generic-api-key", 0.5) == Action.LOG


@pytest.mark.parametrize(
    ("text", "line", "key", "words"),
    [
        ("mode: enforce\nrulez: []\n", 2, "rulez", "unknown key"),
        ("rules:\n  - kind: secret\n    action: blok\n", 3, "rules[0].action", "'blok' is not one of"),
        ("rules:\n  - kind: secrets\n    action: block\n", 2, "rules[0].kind", "not one of"),
        ("rules:\n  - kind: secret\n", 2, "rules[0].action", "is required"),
        ("max_body_bytes: lots\n", 1, "max_body_bytes", "whole number"),
        ("media: scan\n", 1, "media", "'scan' is not one of allow, block"),
        ("token_ids: block\n", 1, "token_ids", "'block' is not one of refuse, allow"),
        ("rules:\n  - kind: pii\n    min_confidence: 3\n    action: log\n", 3, "rules[0].min_confidence", "between 0 and 1"),
        ("members:\n  networks: [10.0.0.0/33]\n", 2, "members.networks[0]", "not an IP network"),
        ("rules: [\n", 2, "(syntax)", ""),
        ("rules:\n  kind: secret\n", 2, "rules", "list of rules"),
        ("block_message: 'ask {admin}'\n", 1, "block_message", "template may use only"),
    ],
    ids=["unknown-key", "bad-action", "bad-kind", "missing-action", "wrong-type", "media", "token-ids", "range", "network", "syntax", "shape", "template"],
)
def test_a_broken_policy_names_file_line_and_key(tmp_path, text, line, key, words):
    path = write(tmp_path, "default", text)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    error = caught.value
    assert (error.file, error.line, error.key) == (str(path), line, key)
    assert words in error.problem
    assert str(error).startswith(f"{path}:{line}: {key}: ")


def test_a_directory_needs_a_default_and_unique_users(tmp_path):
    write(tmp_path, "eng", GOOD_RULES)
    with pytest.raises(PolicyError, match="default"):
        load_policy_dir(tmp_path)
    write(tmp_path, "default", "members:\n  users: [alice]\n" + GOOD_RULES)
    write(tmp_path, "eng", "members:\n  users: [alice]\n" + GOOD_RULES)
    with pytest.raises(PolicyError, match="already in tenant"):
        load_policy_dir(tmp_path)


def test_extends_inherits_settings_and_appends_parent_rules(tmp_path):
    write(tmp_path, "default", "on_error: allow\ncontact: sec@example.com\nexceptions:\n  rules: [generic-api-key]\n" + GOOD_RULES)
    write(tmp_path, "eng", "extends: default\nmode: monitor\nrules:\n  - kind: secret\n    rule: private-key\n    action: block\n")
    eng = load_policy_dir(tmp_path).get("eng")
    assert (eng.mode, eng.on_error, eng.contact) == ("monitor", "allow", "sec@example.com")
    assert [r.action for r in eng.rules] == [Action.BLOCK, Action.REDACT]
    assert eng.exceptions.rules == ("generic-api-key",)


def test_a_cycle_in_extends_names_the_file_line_and_cycle(tmp_path):
    write(tmp_path, "default", GOOD_RULES)
    write(tmp_path, "a", "description: a\nextends: b\n")
    write(tmp_path, "b", "extends: a\n")
    with pytest.raises(PolicyError) as caught:
        load_policy_dir(tmp_path)
    assert caught.value.key == "extends" and "cycle in extends" in caught.value.problem
    assert caught.value.line in (1, 2) and "a -> b -> a" in caught.value.problem or "b -> a -> b" in caught.value.problem


def test_extending_a_missing_policy_is_an_error(tmp_path):
    path = write(tmp_path, "default", "mode: enforce\nextends: base\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert (caught.value.line, caught.value.key) == (2, "extends")


def test_unknown_detector_and_unknown_rule_ids_are_errors(tmp_path):
    path = write(tmp_path, "default", "rules:\n  - detector: secretz\n    action: block\n")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert (caught.value.line, caught.value.key) == (2, "rules[0].detector")
    path = write(tmp_path, "default", "rules:\n  - kind: secret\n    rule: aws-acess-token\n    action: block\n")
    with pytest.raises(PolicyError) as caught:
        secrets = SecretDetector([Rule(id, "", r"AKIA[A-Z0-9]{16}") for id in ("aws-access-token", "aws-secret-access-key")])
        load_policy(path, registry=DetectorRegistry.of([secrets]))
    assert (caught.value.line, caught.value.key) == (2, "rules[0].rule")
    assert "did you mean: aws-access-token" in caught.value.problem


def test_thresholds_labels_and_exceptions_are_read(tmp_path):
    path = write(tmp_path, "default", """
exceptions:
  values: ["hmac-sha256:%s"]
  patterns: ["^AKIA.*TEST$"]
  paths: ["tests/fixtures/*"]
destinations:
  deny: [deepseek, "*.moonshot.cn"]
  reroute:
    openai: https://llm.corp.example:8443
rules:
  - kind: proprietary_code
    label: core
    min_lines: 21
    action: block
  - kind: pii
    min_records: 10
    action: block
  - kind: secret
    min_count: 3
    action: block
""" % ("a" * 64))
    policy = load_policy(path)
    assert policy.rules[0].matches("proprietary_code", "repo", 1.0, {"label": "core", "lines": 25})
    assert not policy.rules[0].matches("proprietary_code", "repo", 1.0, {"label": "core", "lines": 20})
    assert not policy.rules[0].matches("proprietary_code", "repo", 1.0, {"label": "web", "lines": 99})
    assert policy.rules[1].matches("pii", "PII_RECORDS", 1.0, {"records": 12})
    assert policy.rules[2].min_count == 3
    assert policy.destinations.refusal("deepseek", "api.deepseek.com")
    assert policy.destinations.refusal("moonshot", "api.moonshot.cn")
    assert policy.destinations.refusal("anthropic", "api.anthropic.com") is None
    assert policy.destinations.reroute_target("openai", "api.openai.com") == "https://llm.corp.example:8443"
    assert policy.exceptions.reason("x", "AKIAFOOTEST", "h", None) == "exceptions.patterns"
    assert policy.exceptions.reason("x", "v", "hmac-sha256:" + "a" * 64, None) == "exceptions.values"
    assert policy.exceptions.reason("x", "v", "h", "tests/fixtures/keys.txt") == "exceptions.paths"
