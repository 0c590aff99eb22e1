"""No language model for policies that cannot use a language (issue 16): the proxy builds its code
detector without one when no policy has a rule on kind ``code`` (or ``*``) and every default is
``allow``; the findings cache keys the two modes apart, and a reload that needs languages is
refused rather than served by the reduced detector."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.code import CodeDetector
from llm_dlp.detection import DetectorCheckError, check_fit, fit_to_policies, languages_needed
from llm_dlp.keys import ValueHasher
from llm_dlp.policy.model import Action, Policy, Rule
from llm_dlp.proxy import DetectorOptions, _load_fitting
from llm_dlp.scan_cache import FindingsCache, MemoryFindings

CODE = "Why does this fail?\n\ndef handler(event):\n    total = compute(event['items'])\n    return {'total': total}\n"
FENCED = "Look:\n\n```go\nfunc main() {\n\tfmt.Println(1)\n}\n```\n"


class NoModel:
    """A language model that must not be used."""

    def probabilities(self, text: str) -> dict[str, float]:
        raise AssertionError("the language model ran")


def _policy(default: Action, *rules: Rule) -> Policy:
    return Policy(name="t", source="test", rules=rules, default_action=default)


def test_languages_are_needed_by_a_rule_on_code_or_on_every_kind_or_a_default_that_records():
    assert not languages_needed([_policy(Action.ALLOW, Rule(Action.WITHHOLD, kind="proprietary_code", min_lines=21))])
    assert not languages_needed([])
    assert languages_needed([_policy(Action.ALLOW, Rule(Action.LOG, kind="code"))])
    assert languages_needed([_policy(Action.ALLOW, Rule(Action.LOG, kind="*"))])
    assert languages_needed([_policy(Action.LOG, Rule(Action.REDACT, kind="secret"))])  # log audits every kind
    # one tenant that needs them is enough
    assert languages_needed([_policy(Action.ALLOW), _policy(Action.ALLOW, Rule(Action.BLOCK, kind="code", min_lines=50))])


def test_without_languages_regions_are_found_and_the_model_never_runs():
    detector = CodeDetector(model=NoModel(), identify_languages=False)  # type: ignore[arg-type]
    [unnamed] = detector.scan(CODE)
    assert unnamed.rule == "unknown" and unnamed.details["lines"] == 3
    assert CODE[unnamed.start : unnamed.end].startswith("def handler")
    [fenced] = detector.scan(FENCED)
    assert fenced.rule == "go" and fenced.details["lines"] == 3
    [listed] = detector.scan("1\timport os\n2\tprint(os.sep)\n", path_hint="tools/x.py")
    assert listed.rule == "python" and listed.details["file_lines"] == [1, 2]
    assert detector.self_check(frozenset()) == []
    assert detector.self_check(frozenset({"code"}))  # a policy naming code cannot be served


def test_the_same_regions_as_with_the_model_where_it_names_no_language():
    full, reduced = CodeDetector(), CodeDetector(identify_languages=False)
    for text, hint in ((FENCED, None), ("1\timport os\n2\tprint(os.sep)\n", "tools/x.py")):
        assert [(f.start, f.end, f.rule) for f in full.scan(text, path_hint=hint)] == \
            [(f.start, f.end, f.rule) for f in reduced.scan(text, path_hint=hint)]


def test_fit_to_policies_swaps_the_code_detector_only_when_no_policy_needs_languages():
    detectors = [CodeDetector()]
    [kept] = fit_to_policies(detectors, [_policy(Action.LOG)])
    assert kept is detectors[0]
    [reduced] = fit_to_policies(detectors, [_policy(Action.ALLOW, Rule(Action.BLOCK, kind="secret"))])
    assert isinstance(reduced, CodeDetector) and not reduced.identify_languages
    check_fit([reduced], [_policy(Action.ALLOW)])  # still fits
    with pytest.raises(DetectorCheckError, match="restart"):
        check_fit([reduced], [_policy(Action.ALLOW, Rule(Action.LOG, kind="code"))])
    with pytest.raises(DetectorCheckError):
        check_fit([reduced], [_policy(Action.LOG)])


def test_the_findings_cache_keeps_the_two_modes_apart():
    hasher = ValueHasher(b"k" * 32)
    full = FindingsCache(hasher, [CodeDetector()], MemoryFindings())
    reduced = FindingsCache(hasher, [CodeDetector(identify_languages=False)], MemoryFindings())
    assert full.version() != reduced.version()
    assert full.key(full.version(), CODE, None) != reduced.key(reduced.version(), CODE, None)


def test_a_reload_that_needs_languages_is_refused(tmp_path: Path):
    directory = tmp_path / "policies"
    directory.mkdir()
    (directory / "default.yaml").write_text("default_action: allow\nrules:\n  - kind: code\n    action: log\n")
    reduced = [CodeDetector(identify_languages=False)]
    with pytest.raises(DetectorCheckError, match="restart"):
        _load_fitting(directory, reduced, DetectorOptions())
    (directory / "default.yaml").write_text("default_action: allow\nrules: []\n")
    assert _load_fitting(directory, reduced, DetectorOptions()).default.default_action == Action.ALLOW
