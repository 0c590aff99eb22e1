"""What a loaded policy does, in a few plain lines (the start-up banner), and which of its
settings could let a placeholder reach a user's files (``llm-dlp policy check``).

Derived from the ``Policy`` value, never written by hand, so the banner cannot drift from the
policy that is actually in force.
"""

from __future__ import annotations

from llm_dlp.policy.model import RESTORE_PLACES, TOOL_ARGUMENTS, Action, Policy, Rule

_NOUNS = {"secret": "secrets", "pii": "personal data", "code": "code", "proprietary_code": "proprietary code", "*": "any finding"}
_VERBS = {
    Action.BLOCK: "blocked",
    Action.WITHHOLD: "withheld (replaced by a notice; the session goes on)",
    Action.REDACT: "redacted (placeholders)",
    Action.LOG: "logged only",
    Action.ALLOW: "allowed",
}


def describe(policy: Policy) -> list[str]:
    """One line per rule, then the fall-through action, the mode and what is restored."""
    mode = "monitor: decisions are audited, nothing is changed or blocked" if policy.mode == "monitor" else "enforce"
    lines = [f"policy '{policy.name}' ({mode}):"]
    lines += [f"  {_subject(rule)}: {_VERBS[rule.action]}" for rule in policy.rules]
    lines.append(f"  anything else found: {_VERBS[policy.default_action]}")
    restored = [f"{_NOUNS[kind]} in {' and '.join(p.replace('_', ' ') for p in RESTORE_PLACES if p in places)}"
                for kind, places in sorted(policy.restore.items()) if places]
    lines.append(f"  put back into answers: {'; '.join(restored) or 'nothing'}")
    media = "forwarded unscanned (counted in the audit)" if policy.media == "allow" else "blocked"
    tokens = "refused" if policy.token_ids == "refuse" else "forwarded unscanned (counted in the audit)"
    lines.append(f"  images, audio and other binary media: {media}; prompts as token ids: {tokens}")
    lines += [f"  warning: {risk}" for risk in placeholder_risks(policy)]
    return lines


def placeholder_risks(policy: Policy) -> list[str]:
    """Settings under which a placeholder the model writes into a tool call (an edit, a file
    write, a shell command) would reach the client unrestored, and so the user's files."""
    risks = []
    # The kinds this policy speaks of (its rules, its restore table, which includes the defaults).
    kinds = sorted({rule.kind for rule in policy.rules if rule.kind != "*"} | set(policy.restore))
    for kind in kinds:
        if _may_redact(policy, kind) and not policy.restores(kind, TOOL_ARGUMENTS):
            risks.append(
                f"{kind} is redacted but restore.{kind} lacks tool_arguments: a tool call the model writes "
                f"with such a placeholder is held back (the agent cannot edit or write with it), and in "
                f"answers no restorer holds back (Bedrock Converse) the placeholder reaches the disk "
                f"(add tool_arguments to restore.{kind})"
            )
    return risks


def _may_redact(policy: Policy, kind: str) -> bool:
    rules = [rule for rule in policy.rules if rule.kind in ("*", kind)]
    return policy.default_action == Action.REDACT or any(rule.action == Action.REDACT for rule in rules)


def _subject(rule: Rule) -> str:
    parts = [_NOUNS.get(rule.kind, rule.kind)]
    if rule.rules:
        parts.append(f"({', '.join(rule.rules)})")
    if rule.labels:
        parts.append("labelled " + "/".join(rule.labels))
    if rule.min_records:
        parts.append(f"of {rule.min_records}+ records")
    if rule.min_lines:
        parts.append(f"of {rule.min_lines}+ lines")
    if rule.min_confidence:
        parts.append(f"at confidence {rule.min_confidence:g}+")
    if rule.min_count > 1:
        parts.append(f"({rule.min_count}+ in a request)")
    return " ".join(parts)
