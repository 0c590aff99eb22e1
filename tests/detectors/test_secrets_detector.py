"""The public face of the secrets detector: the Finding contract, validation, thread safety."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from detectors.base import Detector
from detectors.secrets import SecretDetector

GITHUB_PAT = "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"  # checksum valid
GITHUB_PAT_BAD_CRC = "ghp_Ky9Pf34qY6Nb3wWD25RQ4F5ZR3qa7y3gm1IM"
AWS_KEY_ID = "AKIAHF6ONPN2CHIW5XMM"  # decodes to account 493817265012
ANTHROPIC = (
    "sk-ant-api03-natmUdjAWtGSU8po_799NksnRH9ucAUsdMlHUvTCQCyEZDz-TddJ8HyS5SUkCnD8zRA9a9SkpXz9w3QlY7Zk"
    "uvqdt7s8SAA"
)

detector = SecretDetector()


def test_is_a_detector_named_secrets() -> None:
    assert isinstance(detector, Detector)
    assert detector.name == "secrets"


def test_finding_spans_the_secret_only_and_details_never_hold_it() -> None:
    text = f'config = {{"token": "{GITHUB_PAT}", "aws": "{AWS_KEY_ID}"}}'
    findings = detector.scan(text)
    assert [(f.rule, text[f.start : f.end]) for f in findings] == [
        ("github-pat", GITHUB_PAT),
        ("aws-access-token", AWS_KEY_ID),
    ]
    for finding in findings:
        assert finding.kind == "secret"
        assert finding.detector == "secrets"
        assert 0.0 <= finding.confidence <= 1.0
        serialized = json.dumps(dict(finding.details))
        assert text[finding.start : finding.end] not in serialized


def test_offsets_are_character_offsets_in_non_ascii_text() -> None:
    text = f"clé secrète 🔑 → ANTHROPIC_API_KEY={ANTHROPIC} ✓"
    [finding] = detector.scan(text)
    assert text[finding.start : finding.end] == ANTHROPIC


def test_checksum_validation_raises_confidence() -> None:
    [valid] = detector.scan(f"token={GITHUB_PAT}")
    [invalid] = detector.scan(f"token={GITHUB_PAT_BAD_CRC}")
    assert valid.details["validated"] is True
    assert invalid.details["validated"] is False
    assert valid.confidence > invalid.confidence


def test_aws_key_id_validation_reports_the_account() -> None:
    [finding] = detector.scan(f"AWS_ACCESS_KEY_ID={AWS_KEY_ID}")
    assert finding.details["aws_account"] == "493817265012"


def test_empty_and_odd_input_does_not_raise() -> None:
    for text in ["", "\x00" * 100, "\ud800 lone surrogate", "-----BEGIN PRIVATE KEY-----" * 50]:
        assert isinstance(detector.scan(text), list)


def test_scan_is_thread_safe() -> None:
    texts = [f"line {i}: token={GITHUB_PAT} key={AWS_KEY_ID}\n" * 20 for i in range(64)]
    expected = [[(f.rule, f.start, f.end) for f in detector.scan(t)] for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda t: [(f.rule, f.start, f.end) for f in detector.scan(t)], texts))
    assert results == expected
    assert all(len(r) == 40 for r in results)


def test_a_value_longer_than_the_confirming_window_is_reported_whole() -> None:
    # The generic rule's window ends 150 bytes past its prefilter hit; a longer value must not
    # be cut there (nor dropped).
    value = "pLIix6MEOLeMa61EqJom" * 20
    text = f'api_key = "{value}"'
    [finding] = detector.scan(text)
    assert (finding.rule, text[finding.start : finding.end]) == ("generic-api-key", value)


def test_generic_assignment_deep_inside_a_long_text() -> None:
    value = "Xk8qP2zL9mW4tR7vN1bY6sJ3"
    text = "x = 1\n" * 500 + f'config.auth_token = "{value}"  # prod\n' + "y = 2\n" * 500
    [finding] = detector.scan(text)
    assert text[finding.start : finding.end] == value


def test_keyword_gating_uses_the_whole_text() -> None:
    # As in gitleaks: a bare 40-hex is a Sourcegraph token only where "sourcegraph" is present.
    token = "6d2FabeB6ADd229Bc199FabA28fD3efb57dF0bD3"
    assert detector.scan(f"value: {token}") == []
    assert [f.rule for f in detector.scan(f"sourcegraph: {token}")] == ["sourcegraph-access-token"]


def test_a_secret_after_many_near_misses_is_still_found() -> None:
    # Thousands of low-entropy assignments in a row: their windows merge, but never into one
    # so long that its regex search times out and hides the real secret at the end.
    text = 'api_key="aB3dE6fG7h",' * 10_000 + 'api_key="9fQ2xLm4Rs8TzP1vW7yK3bN6"'
    findings = detector.scan(text)
    assert [text[f.start : f.end] for f in findings] == ["9fQ2xLm4Rs8TzP1vW7yK3bN6"]


def test_a_regex_that_runs_too_long_fails_the_scan_instead_of_skipping_text(monkeypatch) -> None:
    # Skipping the window would forward whatever secret it held; failing lets the policy block.
    from detectors.secrets import engine
    from detectors.secrets.ruleset import Rule

    monkeypatch.setattr(engine, "REGEX_TIMEOUT_S", 0.01)
    rule = Rule(id="nested-repeat", description="backtracks for ever on a near miss", regex=r"K=(?:a|a)+;",
                prefilters=("K=",), lookahead=64)
    stalled = SecretDetector(rules=[rule])
    with pytest.raises(engine.ScanTimeout, match="nested-repeat"):
        stalled.scan("K=" + "a" * 40 + "!")


def test_every_random_aws_key_id_and_openai_key_is_found() -> None:
    """Random ids with nothing hidden: about 1 AWS id in 5,000 has entropy <= 3 (the rule's old
    floor; AKIASAATTBTBISRSZ5T5: 3,000 ids met one in about half the runs), and 1 OpenAI key in
    64 ends in '-' (the old rule wanted a word boundary after it)."""
    from llm_dlp.testing import secrets_factory as make

    aws = [make.aws_access_key_id() for _ in range(3_000)]
    missed = [key for key in aws if "aws-access-token" not in {f.rule for f in detector.scan(f"id = {key}\n")}]
    assert missed == []
    openai = [make.openai_api_key()[:-1] + "-" for _ in range(20)]
    missed = [key for key in openai if "openai-api-key" not in {f.rule for f in detector.scan(f"key: {key}\n")}]
    assert missed == []
