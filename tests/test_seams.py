"""A value split across two content blocks, two messages or two content parts is found at the seam
and redacted in every part it touches; seams are scanned once, and a resent turn only near what
is new."""

from __future__ import annotations

import json

import pytest

from detectors.secrets import SecretDetector
from llm_dlp.keys import ValueHasher
from llm_dlp.pipeline import Pipeline, RequestInfo
from llm_dlp.policy.loader import load_policy_dir
from llm_dlp.providers import Segment
from llm_dlp.scan_cache import FindingsCache, MemoryFindings
from llm_dlp.scan_workers import _SEAM_HINT, SegmentScanner
from llm_dlp.seams import CHUNK, SEAM_REACH, windows
from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.proxyrun import REPO

HASHER = ValueHasher(b"k" * 32)
ANTHROPIC = RequestInfo("r", "POST", "api.anthropic.com", "/v1/messages", "anthropic")
OPENAI = RequestInfo("r", "POST", "api.openai.com", "/v1/chat/completions", "openai")
DETECTORS = [SecretDetector()]


@pytest.fixture(scope="module")
def policies():
    return load_policy_dir(REPO / "policies")


def pipeline(policies, cache: FindingsCache | None = None) -> Pipeline:
    return Pipeline(policies, DETECTORS, HASHER, scanner=SegmentScanner(DETECTORS, cache))


def halves(value: str, at: int | None = None) -> tuple[str, str]:
    at = len(value) // 2 if at is None else at
    return value[:at], value[at:]


def anthropic_blocks(*texts: str) -> dict:
    return {"model": "m", "max_tokens": 5,
            "messages": [{"role": "user", "content": [{"type": "text", "text": t} for t in texts]}]}


def assert_gone(inspection, value: str, *fragments: str) -> None:
    assert inspection.body is not None, inspection.verdict
    sent = inspection.body.decode()
    assert value not in sent
    for fragment in fragments:
        assert fragment not in sent


def test_aws_key_split_across_two_anthropic_text_blocks(policies) -> None:
    key = make.aws_access_key_id()
    first, second = halves(key)
    body = anthropic_blocks(f"deploy with {first}", f"{second} in eu-west-1")
    inspection = pipeline(policies).inspect(ANTHROPIC, json.dumps(body).encode())
    assert_gone(inspection, key, first, second)
    sent = json.loads(inspection.body)["messages"][0]["content"]
    assert sent[0]["text"].startswith("deploy with [[secret:aws-access-token:")
    assert sent[1]["text"].startswith("[[secret:aws-access-token:") and sent[1]["text"].endswith(" in eu-west-1")
    records = [f for f in inspection.verdict.findings if f.rule == "aws-access-token"]
    assert sorted(f.location for f in records) == ["$.messages[0].content[0].text", "$.messages[0].content[1].text"]
    assert all(f.details["split_across"] == 2 for f in records)


def test_github_token_split_across_two_messages(policies) -> None:
    token = make.github_pat()
    first, second = halves(token, 10)
    adjacent = {"model": "m", "max_tokens": 5, "messages": [
        {"role": "user", "content": f"my token starts {first}"},
        {"role": "user", "content": f"{second}"},
    ]}
    inspection = pipeline(policies).inspect(ANTHROPIC, json.dumps(adjacent).encode())
    assert_gone(inspection, token, first, second)


def test_key_split_across_an_openai_content_part_array(policies) -> None:
    key = make.openai_api_key()
    a, b, c = key[:30], key[30:35], key[35:]  # three parts, the middle one short
    body = {"model": "gpt", "messages": [{"role": "user", "content": [
        {"type": "text", "text": f"key: {a}"}, {"type": "text", "text": b}, {"type": "text", "text": f"{c}\nthanks"}]}]}
    inspection = pipeline(policies).inspect(OPENAI, json.dumps(body).encode())
    assert_gone(inspection, key, a, c)
    parts = json.loads(inspection.body)["messages"][0]["content"]
    assert all("[[secret:" in part["text"] for part in parts)
    assert parts[2]["text"].endswith("\nthanks")


def test_pem_key_split_in_the_middle_of_its_base64_body(policies) -> None:
    pem = make.private_key_pem()
    first, second = halves(pem, pem.index("\n", len(pem) // 2) + 20)  # inside a base64 line
    body = {"model": "m", "max_tokens": 5, "messages": [
        {"role": "user", "content": [{"type": "text", "text": f"here is half:\n{first}"}]},
        {"role": "user", "content": [{"type": "text", "text": f"{second}\nand the rest"}]},
    ]}
    inspection = pipeline(policies).inspect(ANTHROPIC, json.dumps(body).encode())
    records = [f for f in inspection.verdict.findings if f.rule == "private-key"]
    assert len(records) == 2 and {f.details["split_across"] for f in records} == {2}
    # The default policy withholds private keys: both parts, or the request is blocked.
    if inspection.body is not None:
        sent = inspection.body.decode()
        for line in pem.splitlines()[1:-1]:
            assert line not in sent
    else:
        assert inspection.verdict.status == 403


def test_a_value_inside_one_segment_is_reported_once(policies) -> None:
    key = make.aws_access_key_id()
    body = anthropic_blocks("a" * 100, f"key {key} here", "b" * 100)
    inspection = pipeline(policies).inspect(ANTHROPIC, json.dumps(body).encode())
    [record] = [f for f in inspection.verdict.findings if f.rule == "aws-access-token"]
    assert "split_across" not in record.details


def test_seam_windows_are_cached_and_a_longer_conversation_rescans_only_its_new_seams(policies) -> None:
    cache = FindingsCache(HASHER, DETECTORS, MemoryFindings())
    scanner = SegmentScanner(DETECTORS, cache)
    scanned: list[str] = []
    run_all = scanner.detection.run_all
    scanner.detection.run_all = lambda jobs: scanned.extend(  # type: ignore[method-assign]
        job[0] for job in jobs if job[1] == _SEAM_HINT) or run_all(jobs)
    turn = Pipeline(policies, DETECTORS, HASHER, scanner=scanner)
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i} " + "x" * 20_000}
                for i in range(20)]
    body = json.dumps({"model": "m", "max_tokens": 5, "messages": messages}).encode()
    turn.inspect(ANTHROPIC, body)
    first = list(scanned)
    # Seams only (two reaches around each of ~20), not the 400 KB again.
    assert first and sum(map(len, first)) <= (len(messages) + 1) * 2 * SEAM_REACH < 0.5 * len(body)
    scanned.clear()
    turn.inspect(ANTHROPIC, json.dumps({"model": "m", "max_tokens": 5, "messages": messages}).encode())
    assert scanned == []  # resent unchanged: every seam from the cache
    messages.append({"role": "user", "content": "next " + "y" * 20_000})
    turn.inspect(ANTHROPIC, json.dumps({"model": "m", "max_tokens": 5, "messages": messages}).encode())
    assert len(scanned) == 1 and len(scanned[0]) == 2 * SEAM_REACH  # only the new seam


def test_seams_of_many_short_segments_are_scanned_once_in_chunks() -> None:
    segments = [Segment(("m", i), f"line {i:05d} " + "z" * 90, "user") for i in range(5_000)]
    found = windows(segments)
    total = sum(len(s.text) for s in segments)
    assert all(len(w.text) <= CHUNK for w in found)
    assert sum(len(w.text) for w in found) < 1.2 * total  # chunk overlaps only
    # Appending a segment leaves every chunk but the last as it was (same cache keys).
    grown = windows(segments + [Segment(("m", 5_000), "new " * 30, "user")])
    assert [w.text for w in grown[:-1]] == [w.text for w in found[:-1]]


def test_object_keys_are_not_part_of_the_text_stream() -> None:
    segments = [Segment(("a",), "AKIA1234", "user"), Segment(("b", "note", "\x00key"), "note", "user"),
                Segment(("c",), "ABCDEFGHIJKL", "user")]
    [window] = windows(segments)
    assert window.text == "AKIA1234ABCDEFGHIJKL"


def test_a_complete_value_does_not_run_on_into_the_next_segment(policies) -> None:
    # Joined, "secret = <value>" + "Iterate ..." reads as a longer generic value; the first
    # segment's own finding already covers the value, so the next segment is left alone.
    secret = make.aws_secret_access_key()
    body = {"model": "m", "max_tokens": 5, "messages": [
        {"role": "user", "content": f"aws_secret_access_key = {secret}"},
        {"role": "user", "content": "Iterate over the list and sum it"}]}
    inspection = pipeline(policies).inspect(ANTHROPIC, json.dumps(body).encode())
    sent = json.loads(inspection.body)["messages"]
    assert secret not in sent[0]["content"]
    assert sent[1]["content"] == "Iterate over the list and sum it"



def test_evasions_combined_at_a_seam(policies) -> None:
    # A zero-width space at the cut, and a hex dump cut in two: the seam scan normalises and
    # decodes like any scan, and the parts still map back onto each segment's own characters.
    key, token = make.aws_access_key_id(), make.github_pat()
    dump = f"GITHUB_TOKEN={token}\n".encode().hex()
    body = anthropic_blocks(f"id {key[:8]}\u200b", f"{key[8:]} and {dump[:30]}", f"{dump[30:]} end")
    inspection = pipeline(policies).inspect(ANTHROPIC, json.dumps(body).encode())
    assert_gone(inspection, key, key[:8], key[8:], dump[:30], dump[30:])
    parts = json.loads(inspection.body)["messages"][0]["content"]
    assert parts[0]["text"].startswith("id [[secret:aws-access-token:")
    assert parts[2]["text"].endswith(" end")


def test_a_cached_window_answers_only_for_the_same_text(policies) -> None:
    """Seam windows are cached under the keys of the segments they are cut from and the slices
    they take: a resent turn reuses them, and an earlier message edited so that a value now spans
    a seam (a window's slices unchanged in length and place, its text not) is scanned again."""
    cache = FindingsCache(HASHER, DETECTORS, MemoryFindings())
    key = make.aws_access_key_id()
    first, second = halves(key)
    harmless = "x" * len(first)
    before = anthropic_blocks(f"deploy with {harmless}", f"{second} in eu-west-1", "and then?")
    after = anthropic_blocks(f"deploy with {first}", f"{second} in eu-west-1", "and then?")
    cached = pipeline(policies, cache)
    assert cached.inspect(ANTHROPIC, json.dumps(before).encode()).body is None  # nothing to redact
    hits, misses = cache.stats.hits, cache.stats.misses
    assert cached.inspect(ANTHROPIC, json.dumps(before).encode()).body is None
    assert cache.stats.misses == misses and cache.stats.hits > hits  # resent: all from the cache
    misses = cache.stats.misses
    assert_gone(cached.inspect(ANTHROPIC, json.dumps(after).encode()), key, first, second)
    assert cache.stats.misses > misses


def test_windows_are_slices_of_their_segments() -> None:
    segments = [Segment(("m", i), f"{i}:" + "y" * (SEAM_REACH // 3), "user") for i in range(12)]
    for window in windows(segments):
        stream = "".join(s.text for s in segments)
        assert window.text == stream[window.start:window.start + len(window)]
        assert all(0 <= low < high <= len(segments[i].text) for i, low, high in window.pieces)
