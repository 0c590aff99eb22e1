"""Which placeholders an answer may restore: those in the body that went upstream, for its tenant and requester."""

from __future__ import annotations

from llm_dlp.policy.model import Policy
from llm_dlp.request import RequestInfo
from llm_dlp.restore import Restorer
from llm_dlp.restore.session import restore_scope
from llm_dlp.restore.text import TEXT, TOOL_ARGUMENTS
from llm_dlp.vault import VaultEntry
from llm_dlp.verdict import NO_REDACTIONS, Redaction

OLD = "[[secret:github-pat:aaaaaaaaaa]]"
NEW = "[[secret:aws-access-token:bbbbbbbbbb]]"
PII = "[[pii:EMAIL_ADDRESS:cccccccccc]]"


def policy(name: str = "acme") -> Policy:
    return Policy(name=name, source="test", rules=())


def requester(user: str | None = "jane", client: str | None = "10.0.0.5") -> RequestInfo:
    return RequestInfo("r1", "POST", "api.anthropic.com", "/v1/messages", "anthropic", client_address=client, user=user)


JANE = requester()


def redacted(placeholders: dict[str, tuple[str, str]]) -> dict[str, Redaction]:
    return {token: Redaction(kind, "rule", value) for token, (kind, value) in placeholders.items()}


def test_new_placeholders_are_kept_and_old_ones_read_back_from_the_vault():
    restorer = Restorer.in_memory()
    restorer.table(restorer.session(policy(), JANE, redacted({OLD: ("secret", "ghp_old")})), b"{}")
    session = restorer.session(policy(), JANE, redacted({NEW: ("secret", "AKIA_new")}))
    table = restorer.table(session, f'{{"messages": ["{OLD} then {NEW} and [[secret:x:dddddddddd]]"]}}'.encode())
    assert table.entries == {OLD: VaultEntry("secret", "ghp_old"), NEW: VaultEntry("secret", "AKIA_new")}
    # Another tenant carrying the same placeholder gets nothing back.
    other = restorer.table(restorer.session(policy("other"), JANE, NO_REDACTIONS), OLD.encode())
    assert other.entries == {}


def test_a_value_goes_back_only_to_the_user_it_came_from():
    restorer = Restorer.in_memory()
    restorer.table(restorer.session(policy(), JANE, redacted({OLD: ("secret", "ghp_old")})), b"{}")
    same_user_elsewhere = requester(client="10.0.0.9")  # another machine, another proxy instance: same login
    assert restorer.table(restorer.session(policy(), same_user_elsewhere, NO_REDACTIONS), OLD.encode()).entries == {
        OLD: VaultEntry("secret", "ghp_old")}
    # Another user of the same tenant, even from the same address, sends the placeholder: no value back.
    assert restorer.table(restorer.session(policy(), requester("bob"), NO_REDACTIONS), OLD.encode()).entries == {}


def test_without_a_proxy_login_the_client_address_is_the_requester():
    restorer = Restorer.in_memory()
    anonymous = requester(user=None, client="10.0.0.5")
    restorer.table(restorer.session(policy(), anonymous, redacted({OLD: ("secret", "ghp_old")})), b"{}")
    assert restorer.table(restorer.session(policy(), anonymous, NO_REDACTIONS), OLD.encode()).entries != {}
    for other in (requester(user=None, client="10.0.0.6"), requester(user="10.0.0.5", client="10.0.0.5")):
        assert restorer.table(restorer.session(policy(), other, NO_REDACTIONS), OLD.encode()).entries == {}


def test_the_scope_keeps_user_names_out_of_the_store_key_and_cannot_be_forged_by_a_separator():
    assert "jane" not in restore_scope("acme", JANE) and restore_scope("acme", JANE).startswith("acme:")
    assert restore_scope("a", requester(user="b:c")) != restore_scope("a:b", requester(user="c"))


def test_a_request_that_redacted_nothing_leaves_nothing_in_the_vault():
    restorer = Restorer.in_memory()
    assert restorer.table(restorer.session(policy(), JANE, NO_REDACTIONS), NEW.encode()).entries == {}
    assert restorer.vault.get_many(restore_scope("acme", JANE), [NEW]) == {}


def test_a_redaction_never_shows_its_value_when_printed():
    assert "AKIA_new" not in repr(redacted({NEW: ("secret", "AKIA_new")}))


def test_the_policy_decides_per_kind_and_place():
    restorer = Restorer.in_memory()
    session = restorer.session(policy(), JANE, redacted({NEW: ("secret", "AKIA_new"), PII: ("pii", "a@b.example")}))
    table = restorer.table(session, b"{}")
    assert table.value_for(NEW, TEXT) == "AKIA_new" and table.value_for(NEW, TOOL_ARGUMENTS) == "AKIA_new"
    assert table.value_for(PII, TEXT) is None  # the default policy never restores personal data
    text_only = Policy(name="acme", source="test", rules=(), restore={"pii": frozenset({TEXT})})
    table = restorer.table(restorer.session(text_only, JANE, NO_REDACTIONS), PII.encode())
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
