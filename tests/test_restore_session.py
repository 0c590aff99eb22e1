"""Which placeholders an answer may restore: those in the body that went upstream, for its tenant."""

from __future__ import annotations

from llm_dlp.pipeline import Verdict
from llm_dlp.policy.model import Policy
from llm_dlp.restore import Restorer
from llm_dlp.restore.text import TEXT, TOOL_ARGUMENTS
from llm_dlp.vault import VaultEntry

OLD = "[[secret:github-pat:aaaaaaaaaa]]"
NEW = "[[secret:aws-access-token:bbbbbbbbbb]]"
PII = "[[pii:EMAIL_ADDRESS:cccccccccc]]"


def policy(name: str = "acme") -> Policy:
    return Policy(name=name, source="test", rules=())


def redacting(tenant: str, placeholders: dict) -> Verdict:
    return Verdict("redact", tenant, body=b"{}", placeholders=placeholders)


def test_new_placeholders_are_kept_and_old_ones_read_back_from_the_vault():
    restorer = Restorer.in_memory()
    restorer.table(restorer.session(redacting("acme", {OLD: ("secret", "ghp_old")}), policy()), b"{}")
    session = restorer.session(redacting("acme", {NEW: ("secret", "AKIA_new")}), policy())
    table = restorer.table(session, f'{{"messages": ["{OLD} then {NEW} and [[secret:x:dddddddddd]]"]}}'.encode())
    assert table.entries == {OLD: VaultEntry("secret", "ghp_old"), NEW: VaultEntry("secret", "AKIA_new")}
    # Another tenant carrying the same placeholder gets nothing back.
    other = restorer.table(restorer.session(Verdict("allow", "other"), policy("other")), OLD.encode())
    assert other.entries == {}


def test_monitor_mode_forwards_the_original_so_nothing_is_remembered():
    restorer = Restorer.in_memory()
    monitored = Verdict("would_redact", "acme", body=None, placeholders={NEW: ("secret", "AKIA_new")})
    assert restorer.table(restorer.session(monitored, policy()), b"{}").entries == {}
    assert restorer.vault.get_many("acme", [NEW]) == {}


def test_the_policy_decides_per_kind_and_place():
    restorer = Restorer.in_memory()
    session = restorer.session(redacting("acme", {NEW: ("secret", "AKIA_new"), PII: ("pii", "a@b.example")}), policy())
    table = restorer.table(session, b"{}")
    assert table.value_for(NEW, TEXT) == "AKIA_new" and table.value_for(NEW, TOOL_ARGUMENTS) == "AKIA_new"
    assert table.value_for(PII, TEXT) is None  # the default policy never restores personal data
    text_only = Policy(name="acme", source="test", rules=(), restore={"pii": frozenset({TEXT})})
    table = restorer.table(restorer.session(Verdict("allow", "acme"), text_only), PII.encode())
    assert table.value_for(PII, TEXT) == "a@b.example" and table.value_for(PII, TOOL_ARGUMENTS) is None
