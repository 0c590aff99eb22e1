"""Scanning each distinct text of a request once, and the code detector's one-line fast path,
change no finding: on the recorded agent bodies and the bench turns, the scanner's findings are
those of every detector run on every segment by its full path."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from bench.proxy_latency import first_turn
from detectors.base import Finding
from detectors.code import CodeDetector
from llm_dlp.bodies import decode_content
from llm_dlp.detection import build_detectors
from llm_dlp.keys import ValueHasher
from llm_dlp.pipeline import Pipeline
from llm_dlp.policy.loader import load_policy_dir
from llm_dlp.providers import Segment
from llm_dlp.request import RequestInfo
from llm_dlp.scan_cache import FindingsCache, MemoryFindings
from llm_dlp.scan_workers import Detection, SegmentScanner
from llm_dlp.testing.proxyrun import REPO

AGENTS = Path(__file__).parent / "data" / "agents"
HASHER = ValueHasher(b"k" * 32)


class FullPathCode(CodeDetector):
    """The code detector with its fast path off: every text is unwrapped and searched."""

    def _one_line(self, text: str) -> bool:
        return False


def full_path(detectors) -> list:
    return [FullPathCode(d.min_lines, d._model, d.identify_languages) if isinstance(d, CodeDetector) else d
            for d in detectors]


def recorded_segments() -> dict[str, list[Segment]]:
    bodies = {"bench 60KB first turn": ("/v1/messages", "anthropic", (), first_turn())}
    for path in sorted(AGENTS.glob("*.json")):
        record = json.loads(path.read_text())
        bodies[path.stem] = (record["path"], record["api"], tuple(record["headers"].items()), record["body"])
    parser = Pipeline.__new__(Pipeline)  # only its body parsing: no detectors needed
    parser.walks = None  # and no walk memo (providers.coverage)
    out = {}
    for label, (target, api, headers, body) in bodies.items():
        info = RequestInfo("r", "POST", "api.example", target, api, content_type="application/json", headers=headers)
        _, parsed = parser._parse(info, decode_content(json.dumps(body).encode(), "", 1 << 30))
        out[label] = parsed.segments
    return out


SEGMENTS = recorded_segments()


@pytest.fixture(scope="module")
def detectors():
    return build_detectors()


def as_tuples(found: list[list[Finding]]) -> list[list[tuple]]:
    return [[(f.detector, f.kind, f.rule, f.start, f.end, f.confidence, sorted(f.details.items(), key=str)) for f in fs]
            for fs in found]


@pytest.mark.parametrize("label", sorted(SEGMENTS))
def test_deduplicated_scan_with_fast_paths_finds_what_every_segment_scanned_alone_finds(detectors, label):
    segments = SEGMENTS[label]
    # the bodies do repeat texts, so the dedupe is exercised
    assert len({(s.text, s.path_hint) for s in segments}) < len(segments)
    reference = Detection(full_path(detectors))
    expected = [reference.run(s.text, s.path_hint) for s in segments]
    for cache in (None, FindingsCache(HASHER, detectors, MemoryFindings())):
        scanner = SegmentScanner(detectors, cache)
        assert as_tuples(scanner.find(segments)) == as_tuples(expected)
        if cache is not None:  # and again from the cache
            assert as_tuples(scanner.find(segments)) == as_tuples(expected)
    assert any(expected), "some body must have findings for the comparison to mean something"


def test_each_segment_gets_its_own_list_of_the_shared_findings(detectors):
    text = "contact: ada.lovelace@example.org"
    segments = [Segment(("messages", i), text, "user") for i in range(3)]
    found = SegmentScanner(detectors).find(segments)
    assert found[0] and found[0] == found[1] == found[2]
    found[0].append(found[0][0])  # the pipeline extends a segment's list with known-value findings
    assert len(found[1]) == len(found[2]) == len(found[0]) - 1


def test_a_repeated_text_is_scanned_once_per_request(detectors):
    scans: list[str] = []

    class Counting:
        name, takes_path_hint = "counting", False

        def scan(self, text: str) -> list[Finding]:
            scans.append(text)
            return []

    segments = [Segment(("tools", i, "type"), "object", "tool") for i in range(50)]
    segments.append(Segment(("tools", 0, "name"), "object", "tool", path_hint="x.py"))  # another hint
    SegmentScanner([Counting()]).find(segments)
    assert sorted(scans) == ["object", "object"]


def random_one_liners(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    pieces = ["def f(x):", "return x", "```python", "```", "{", "}", "  ", "\t", "1\t", "12\u2192", "+", "-", "@@ -1 +1 @@",
              "import os", "x = 1;", "for (;;) {", '"cell_type"', '"source": ["a\\n", "b\\n"]', "\\n", "\r", ">", "a.py:3:",
              "SELECT * FROM t", "<div>", "param_0", "object", "string", "tool_use", " ", "é", "// note", "#!"]
    texts = []
    for _ in range(count):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        if rng.random() < 0.1:
            text = '{"cells": [{"cell_type": "code", "source": ["import os\\n", "x = 1\\n", "print(x)\\n"]}]}'
        texts.append(text)
    return texts


def test_code_fast_path_agrees_with_the_full_path_on_random_short_texts():
    fast, full = CodeDetector(), FullPathCode()
    texts = random_one_liners(400)
    skipped = [t for t in texts if fast._one_line(t)]
    assert 0 < len(skipped) < len(texts)  # both paths are taken
    for text in texts:
        assert fast.scan(text) == full.scan(text), text
    # a notebook on one line holds code; the fast path must not hide it
    notebook = next(t for t in texts if t.startswith('{"cells"'))
    assert not fast._one_line(notebook) and fast.scan(notebook)


def test_code_fast_path_is_off_when_one_line_can_be_a_region():
    assert not CodeDetector(min_lines=1)._one_line("x = compute(a, b) if a else None")


def test_pipeline_verdicts_are_unchanged_by_the_fast_path(detectors):
    policies = load_policy_dir(REPO / "policies")
    fast = Pipeline(policies, detectors, HASHER)
    full = Pipeline(policies, full_path(detectors), HASHER)
    for path in sorted(AGENTS.glob("*.json")):
        record = json.loads(path.read_text())
        info = RequestInfo("r", "POST", "api.example", record["path"], record["api"], content_type="application/json",
                           headers=tuple(record["headers"].items()))
        body = json.dumps(record["body"]).encode()
        assert fast.inspect(info, body).verdict.findings == full.inspect(info, body).verdict.findings, path.stem
