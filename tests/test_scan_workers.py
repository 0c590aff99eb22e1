"""Detector worker processes: the same verdicts as scanning in the proxy process, and a worker
that dies or hangs fails its request closed while the next request is served again."""

from __future__ import annotations

import os
import time

import pytest

from detectors.base import Finding
from llm_dlp.detection import build_detectors
from llm_dlp.keys import ValueHasher
from llm_dlp.pipeline import Pipeline, RequestInfo
from llm_dlp.policy.loader import load_policy_dir
from llm_dlp.scan_cache import FindingsCache, MemoryFindings
from llm_dlp.scan_workers import SegmentScanner
from llm_dlp.testing.proxyrun import REPO
from tests.test_scan_cache import conversation_turns, same

# Forks worker processes: the slow tier, like every test that starts a process.
pytestmark = pytest.mark.slow

INFO = RequestInfo("r", "POST", "api.example", "/v1/messages", "anthropic")
HASHER = ValueHasher(b"k" * 32)


class Saboteur:
    """Finds 'needle'; kills its process on 'CRASH', hangs on 'HANG'. Inherited by fork."""

    name = "saboteur"
    takes_path_hint = False

    def scan(self, text: str) -> list[Finding]:
        if "CRASH" in text:
            os._exit(3)
        if "HANG" in text:
            time.sleep(5)
        at = text.find("needle")
        return [Finding("secret", "planted", at, at + 6, 1.0, self.name)] if at >= 0 else []


def body(text: str) -> bytes:
    return ('{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"%s"}]}' % text).encode()


@pytest.fixture(scope="module")
def detectors():
    return build_detectors()


@pytest.mark.parametrize("cached", [False, True])
def test_workers_give_the_same_verdicts_as_the_proxy_process(detectors, cached):
    policies = load_policy_dir(REPO / "policies")
    cache = FindingsCache(HASHER, detectors, MemoryFindings()) if cached else None
    scanner = SegmentScanner(detectors, cache, workers=2)
    try:
        workers = Pipeline(policies, detectors, HASHER, scanner=scanner)
        local = Pipeline(policies, detectors, HASHER)
        turns = conversation_turns()
        for turn in turns:
            same(workers.inspect(INFO, turn), local.inspect(INFO, turn))
        # One large request split across both workers: same answer, in segment order.
        big = turns[-1].replace(b"Fix the build.", b"Fix the build. " * 20000)
        same(workers.inspect(INFO, big), local.inspect(INFO, big))
    finally:
        scanner.close()


def test_a_worker_that_dies_fails_its_request_closed_and_the_next_is_served():
    scanner = SegmentScanner([Saboteur()], workers=2)
    try:
        pipeline = Pipeline(load_policy_dir(REPO / "policies"), [Saboteur()], HASHER, scanner=scanner)
        crashed = pipeline.inspect(INFO, body("CRASH with a needle"))
        assert crashed.verdict.decision == "error" and crashed.verdict.status == 500 and crashed.body is None
        assert "worker" in crashed.verdict.error
        after = pipeline.inspect(INFO, body("a needle"))
        assert after.verdict.decision == "redact" and b"a needle" not in after.body
    finally:
        scanner.close()


def test_a_worker_that_does_not_answer_in_time_fails_its_request_closed():
    scanner = SegmentScanner([Saboteur()], workers=2, timeout_seconds=0.2)
    try:
        pipeline = Pipeline(load_policy_dir(REPO / "policies"), [Saboteur()], HASHER, scanner=scanner)
        hung = pipeline.inspect(INFO, body("HANG"))
        assert hung.verdict.decision == "error" and hung.body is None and "did not finish" in hung.verdict.error
        # The other worker is free: a request in the meantime is answered.
        assert pipeline.inspect(INFO, body("a needle")).verdict.decision == "redact"
    finally:
        scanner.close()

