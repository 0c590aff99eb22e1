"""What the start-up banner says a policy does, and the settings ``llm-dlp policy check`` warns
could let a placeholder reach a user's files."""

from __future__ import annotations

import subprocess
import sys

from llm_dlp.policy.loader import load_policy_dir
from llm_dlp.policy.model import Action
from llm_dlp.policy.summary import describe, placeholder_risks
from llm_dlp.testing.proxyrun import REPO, copy_policies
from tests.test_policy_files import action_alone


def test_the_banner_summary_is_derived_from_the_loaded_default():
    lines = describe(load_policy_dir(REPO / "policies").default)
    assert lines[0] == "policy 'default' (enforce):"
    assert "  secrets (private-key): withheld (replaced by a notice; the session goes on)" in lines
    assert "  personal data (PII_RECORDS) of 10+ records: withheld (replaced by a notice; the session goes on)" in lines
    assert "  proprietary code of 21+ lines: withheld (replaced by a notice; the session goes on)" in lines
    assert "  personal data: redacted (placeholders)" in lines
    assert "  images, audio and other binary media: forwarded unscanned (counted in the audit); prompts as token ids: refused" in lines
    assert not any("warning" in line for line in lines)


def test_a_changed_policy_changes_the_summary(tmp_path):
    text = (REPO / "policies" / "default.yaml").read_text().replace("mode: enforce", "mode: monitor")
    policy = load_policy_dir(copy_policies(tmp_path / "p", default=text)).default
    assert describe(policy)[0] == "policy 'default' (monitor: decisions are audited, nothing is changed or blocked):"


def test_redacting_a_kind_without_restoring_it_in_tool_arguments_is_warned_about(tmp_path):
    text = (REPO / "policies" / "default.yaml").read_text().replace("  pii: [tool_arguments]", "  pii: [text]")
    directory = copy_policies(tmp_path / "p", default=text)
    policy = load_policy_dir(directory).default
    assert action_alone(policy, "pii", "EMAIL_ADDRESS", 0.9) == Action.REDACT
    [risk] = placeholder_risks(policy)
    assert risk.startswith("pii is redacted but restore.pii lacks tool_arguments")
    assert f"  warning: {risk}" in describe(policy)
    check = subprocess.run([sys.executable, "-m", "addons.main", "policy", "check", str(directory)],
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stderr
    assert f"warning: default: {risk}" in check.stderr


def test_a_kind_left_out_of_restore_is_restored_in_tool_arguments(tmp_path):
    text = (REPO / "policies" / "default.yaml").read_text().split("\nrestore:")[0] + "\nrestore:\n  secret: [text]\n"
    policy = load_policy_dir(copy_policies(tmp_path / "p", default=text)).default
    assert policy.restores("pii", "tool_arguments") and not policy.restores("pii", "text")
    assert [r.split(" ")[0] for r in placeholder_risks(policy)] == ["secret"]
