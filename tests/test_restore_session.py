"""Which placeholders an answer may restore: those in the body that went upstream, for its tenant."""

from __future__ import annotations

from llm_dlp.policy.model import Policy
from llm_dlp.restore import Restorer
from llm_dlp.restore.text import TEXT, TOOL_ARGUMENTS
from llm_dlp.vault import VaultEntry
from llm_dlp.verdict import NO_REDACTIONS, Redaction

OLD = "[[secret:github-pat:aaaaaaaaaa]]"
NEW = "[[secret:aws-access-token:bbbbbbbbbb]]"
PII = "[[pii:EMAIL_ADDRESS:cccccccccc]]"


def policy(name: str = "acme") -> Policy:
    return Policy(name=name, source="test", rules=())


def redacted(placeholders: dict[str, tuple[str, str]]) -> dict[str, Redaction]:
    return {token: Redaction(kind, "rule", value) for token, (kind, value) in placeholders.items()}


def test_new_placeholders_are_kept_and_old_ones_read_back_from_the_vault():
    restorer = Restorer.in_memory()
    restorer.table(restorer.session(policy(), redacted({OLD: ("secret", "ghp_old")})), b"{}")
    session = restorer.session(policy(), redacted({NEW: ("secret", "AKIA_new")}))
    table = restorer.table(session, f'{{"messages": ["{OLD} then {NEW} and [[secret:x:dddddddddd]]"]}}'.encode())
    assert table.entries == {OLD: VaultEntry("secret", "ghp_old"), NEW: VaultEntry("secret", "AKIA_new")}
    # Another tenant carrying the same placeholder gets nothing back.
    other = restorer.table(restorer.session(policy("other"), NO_REDACTIONS), OLD.encode())
    assert other.entries == {}


def test_a_request_that_redacted_nothing_leaves_nothing_in_the_vault():
    restorer = Restorer.in_memory()
    assert restorer.table(restorer.session(policy(), NO_REDACTIONS), NEW.encode()).entries == {}
    assert restorer.vault.get_many("acme", [NEW]) == {}


def test_a_redaction_never_shows_its_value_when_printed():
    assert "AKIA_new" not in repr(redacted({NEW: ("secret", "AKIA_new")}))


def test_the_policy_decides_per_kind_and_place():
    restorer = Restorer.in_memory()
    session = restorer.session(policy(), redacted({NEW: ("secret", "AKIA_new"), PII: ("pii", "a@b.example")}))
    table = restorer.table(session, b"{}")
    assert table.value_for(NEW, TEXT) == "AKIA_new" and table.value_for(NEW, TOOL_ARGUMENTS) == "AKIA_new"
    assert table.value_for(PII, TEXT) is None  # the default policy never restores personal data
    text_only = Policy(name="acme", source="test", rules=(), restore={"pii": frozenset({TEXT})})
    table = restorer.table(restorer.session(text_only, NO_REDACTIONS), PII.encode())
    assert table.value_for(PII, TEXT) == "a@b.example" and table.value_for(PII, TOOL_ARGUMENTS) is None


def test_monitor_mode_forwards_the_original_so_nothing_is_kept_for_restoring(tmp_path):
    import json

    from detectors.secrets import SecretDetector
    from llm_dlp.keys import ValueHasher
    from llm_dlp.pipeline import Pipeline, RequestInfo
    from llm_dlp.policy.loader import load_policy_dir
    from llm_dlp.testing import secrets_factory as make

    (tmp_path / "default.yaml").write_text("mode: monitor\nrules:\n  - kind: secret\n    action: redact\n")
    pipeline = Pipeline(load_policy_dir(tmp_path), [SecretDetector()], ValueHasher(b"k" * 32))
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": f"key {make.aws_access_key_id()}"}]})
    inspection = pipeline.inspect(RequestInfo("r", "POST", "h", "/v1/messages", "anthropic"), body.encode())
    assert inspection.verdict.decision == "would_redact"
    assert (inspection.body, dict(inspection.redactions)) == (None, {})
