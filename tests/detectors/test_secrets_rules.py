"""Every bundled secret rule finds its positive samples and stays silent on its negatives.

The samples in ``detectors/secrets/rules/*.yaml`` are each rule's specification, as in
gitleaks: a rule that stops matching a positive, or starts matching a negative, fails here.
"""

from __future__ import annotations

import pytest

from detectors.secrets import SecretDetector, load_rules

RULES = load_rules()
DETECTOR = SecretDetector()

POSITIVES = [
    pytest.param(rule.id, sample, id=f"{rule.id}-{i}")
    for rule in RULES
    for i, sample in enumerate(rule.samples.positive)
]
NEGATIVES = [
    pytest.param(rule.id, sample, id=f"{rule.id}-{i}")
    for rule in RULES
    for i, sample in enumerate(rule.samples.negative)
]


def test_every_rule_has_positive_and_negative_samples() -> None:
    missing = [r.id for r in RULES if not r.samples.positive or not r.samples.negative]
    assert missing == []


def test_rule_ids_the_default_policy_refers_to_exist() -> None:
    ids = {rule.id for rule in RULES}
    required = {
        "private-key",
        "aws-access-token",
        "aws-secret-access-key",
        "github-pat",
        "github-fine-grained-pat",
        "github-oauth",
        "anthropic-api-key",
        "openai-api-key",
        "url-password",
    }
    assert required <= ids


def rules_reported(text: str) -> set[str]:
    """Rule ids behind the findings, including rules that matched exactly the same span."""
    ids: set[str] = set()
    for finding in DETECTOR.scan(text):
        ids.add(finding.rule)
        ids.update(finding.details.get("also_matched", ()))
    return ids


@pytest.mark.parametrize(("rule_id", "sample"), POSITIVES)
def test_rule_finds_its_positive_sample(rule_id: str, sample: str) -> None:
    found = rules_reported(sample)
    assert rule_id in found, f"{rule_id} missed; found {sorted(found)}"


@pytest.mark.parametrize(("rule_id", "sample"), NEGATIVES)
def test_rule_ignores_its_negative_sample(rule_id: str, sample: str) -> None:
    # As in gitleaks, a negative belongs to its rule: a sibling rule may legitimately match it
    # (a Cloudflare global key sample is a negative for the Cloudflare origin-CA rule).
    assert rule_id not in rules_reported(sample)


# Ordinary code around a sample: a rule must not depend on its sample being the whole text
# (prefilter windows reach back from where hyperscan saw a match, across kilobytes of text).
FILLER = "def handler(event, context):\n    items = [i * 2 for i in range(10)]\n    return items\n" * 60


@pytest.mark.parametrize(("rule_id", "sample"), POSITIVES)
def test_rule_finds_its_positive_sample_inside_a_long_text(rule_id: str, sample: str) -> None:
    found = rules_reported(f"{FILLER}\n{sample}\n{FILLER}")
    assert rule_id in found, f"{rule_id} missed inside a long text; found {sorted(found)}"
