"""The findings cache: a resent segment is not scanned again, and no decision ever changes for it.

Specification: the same findings and the same verdict with and without the cache on varied
bodies over a growing conversation, a policy edit between turns included; a change of the
detectors' rules or of the proprietary-code index is a new version (nothing reused); a Redis
cache that is down, tampered with or corrupt is a miss (scanned again), never a skip; what goes to
Redis holds offsets and keyed hashes, never the text.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from detectors.base import Finding
from detectors.code import ProprietaryCodeDetector
from detectors.secrets import SecretDetector
from llm_dlp.detection import build_detectors
from llm_dlp.keys import ValueHasher
from llm_dlp.pipeline import Pipeline, RequestInfo
from llm_dlp.policy.loader import load_policy_dir
from llm_dlp.providers import Segment
from llm_dlp.scan_cache import (
    FindingsCache,
    MemoryFindings,
    RedisFindings,
    TieredFindings,
)
from llm_dlp.scan_workers import SegmentScanner
from llm_dlp.seams import windows
from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.proxyrun import REPO
from llm_dlp.verdict import Inspection

INFO = RequestInfo("r", "POST", "api.example", "/v1/messages", "anthropic")
HASHER = ValueHasher(b"k" * 32)


@pytest.fixture(scope="module")
def detectors():
    return build_detectors()


class Counting:
    """A real detector, counting the characters it is asked to scan."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.kinds = inner.kinds
        self.takes_path_hint = False  # counts what it is given; the hint does not matter here
        self.scanned = 0

    def scan(self, text: str) -> list[Finding]:
        self.scanned += len(text)
        return self.inner.scan(text)


def conversation_turns() -> list[bytes]:
    """A growing Claude-Code-shaped conversation: secrets, PII, code, tool results, repeats."""
    sources = sorted((Path(json.__file__).parent).glob("*.py"))
    pieces = [
        f"Deploy with aws_secret_access_key = {make.aws_secret_access_key()} please",
        "Contact Jane Doe at jane.doe@example.com or +44 20 7946 0958 about the invoice.",
        sources[0].read_text(),
        f"export GITHUB_TOKEN={make.github_pat()}\n" + sources[1].read_text()[:3000],
        "Card 4111 1111 1111 1111, expiry 12/29, for the test order.",
        make.private_key_pem(),
        "Now run the tests again.",
    ]
    messages: list[dict] = []
    turns = []
    for index, piece in enumerate(pieces):
        tool_id = f"toolu_{index}"
        messages += [
            {"role": "assistant", "content": [{"type": "tool_use", "id": tool_id, "name": "Read",
                                               "input": {"file_path": f"/repo/src/file_{index}.py"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": piece}]},
        ]
        turns.append(json.dumps({"model": "m", "max_tokens": 5, "system": "You are a coding agent.",
                                  "messages": [{"role": "user", "content": "Fix the build."}, *messages]}).encode())
    return turns


def same(a: Inspection, b: Inspection) -> None:
    """Two inspections that decide, forward and keep for restoring exactly the same things."""
    va, vb = a.verdict, b.verdict
    assert (va.decision, va.status, va.message, a.body, a.redactions) == (vb.decision, vb.status, vb.message, b.body, b.redactions)
    assert va.findings == vb.findings


def edited_policies(tmp_path: Path) -> Path:
    """The bundled policies with PII redacted instead of logged and secrets of one rule exempt."""
    target = tmp_path / "edited"
    shutil.copytree(REPO / "policies", target)
    text = (target / "default.yaml").read_text()
    text = text.replace("  - kind: pii\n    action: log", "  - kind: pii\n    action: redact")
    text += "\nexceptions:\n  rules: [github-pat]\n"
    (target / "default.yaml").write_text(text)
    return target


def test_the_cache_changes_no_decision_over_a_growing_conversation_and_a_policy_edit(detectors, tmp_path):
    policies = load_policy_dir(REPO / "policies")
    edited = load_policy_dir(edited_policies(tmp_path))
    cache = FindingsCache(HASHER, detectors, MemoryFindings())
    cached = Pipeline(policies, detectors, HASHER, scanner=SegmentScanner(detectors, cache))
    plain = Pipeline(policies, detectors, HASHER)
    decisions = []
    for number, body in enumerate(conversation_turns()):
        if number == 4:  # the operator edits the policy mid-session; it must act on cached segments
            cached.policies = plain.policies = edited
        with_cache, without = cached.inspect(INFO, body), plain.inspect(INFO, body)
        same(with_cache, without)
        decisions.append(with_cache.verdict.decision)
    assert cache.stats.hits > 0
    assert "redact" in decisions and decisions[-1] == "withhold"  # the last turn reads a private key
    # The edit acted on findings that came from the cache: PII of turn 2 is now redacted.
    last = cached.inspect(INFO, conversation_turns()[3])
    assert any(f.kind == "pii" and f.action == "redact" for f in last.verdict.findings)
    assert not any(f.rule == "github-pat" and f.action == "redact" for f in last.verdict.findings)


def test_a_resent_history_is_not_scanned_again(detectors):
    counting = [Counting(d) for d in detectors]
    cache = FindingsCache(HASHER, counting, MemoryFindings())
    pipeline = Pipeline(load_policy_dir(REPO / "policies"), counting, HASHER, scanner=SegmentScanner(counting, cache))
    turns = conversation_turns()
    pipeline.inspect(INFO, turns[-2])
    before = [c.scanned for c in counting]
    pipeline.inspect(INFO, turns[-1])
    earlier, latest = (Pipeline(load_policy_dir(REPO / "policies"), detectors, HASHER).scan(INFO, t, 10**8).parsed.segments
                       for t in turns[-2:])
    seen = {(s.text, s.path_hint) for s in earlier}
    # each new (text, path hint) once, however many segments of the turn hold it
    new = [text for text, _ in dict.fromkeys((s.text, s.path_hint) for s in latest if (s.text, s.path_hint) not in seen)]
    tool_result = json.loads(turns[-1])["messages"][-1]
    assert tool_result["content"][0]["content"] in new
    # Every detector: only the turn's new texts. The secrets detector: those, and the seams
    # (``llm_dlp.seams``) next to them.
    assert counting[0].name == "secrets"
    assert all(c.scanned - b == sum(map(len, new)) for c, b in zip(counting[1:], before[1:]))
    new_seams = {w.text for w in windows(latest)} - {w.text for w in windows(earlier)}
    assert counting[0].scanned - before[0] == sum(map(len, new)) + sum(map(len, new_seams))


def test_the_path_hint_is_part_of_the_key(detectors):
    cache = FindingsCache(HASHER, detectors, MemoryFindings())
    version = cache.version()
    assert cache.key(version, "text", "a.py") != cache.key(version, "text", "b.py") != cache.key(version, "text", None)


def test_other_rules_are_another_version(detectors):
    secrets = SecretDetector()
    fewer = SecretDetector([r for r in secrets.rules if r.id != "github-pat"])
    assert FindingsCache(HASHER, [secrets], MemoryFindings()).version() != FindingsCache(HASHER, [fewer], MemoryFindings()).version()


def test_a_rebuilt_index_is_another_version(tmp_path):
    index = tmp_path / "index"
    index.mkdir()
    cache = FindingsCache(HASHER, [ProprietaryCodeDetector(index)], MemoryFindings())
    empty = cache.version()
    (index / "index.db").write_bytes(b"rebuilt")
    assert cache.version() != empty
    scanner = SegmentScanner([ProprietaryCodeDetector(index)], cache)
    scanner.find([Segment(("x",), "some text", "user")])
    (index / "index.db").write_bytes(b"rebuilt again, larger")
    misses = cache.stats.misses
    scanner.find([Segment(("x",), "some text", "user")])
    assert cache.stats.misses == misses + 1


class FakeRedis:
    def __init__(self) -> None:
        self.items: dict[str, bytes] = {}

    def get(self, key):
        return self.items.get(key)

    def set(self, key, value, px=None):
        self.items[key] = value

    def mget(self, keys):
        return [self.items.get(key) for key in keys]

    def pipeline(self, transaction=True):
        return FakeBatch(self)


class FakeBatch:
    """redis-py's pipeline: commands queued, then run together."""

    def __init__(self, client) -> None:
        self.client, self.queued = client, []

    def set(self, key, value, px=None):
        self.queued.append((key, value, px))

    def execute(self):
        return [self.client.set(*command) for command in self.queued]


class DownRedis:
    def get(self, key):
        raise ConnectionError("redis is down")

    def set(self, key, value, px=None):
        raise ConnectionError("redis is down")

    def mget(self, keys):
        raise ConnectionError("redis is down")

    def pipeline(self, transaction=True):
        return self


def scan_twice(store, text: str) -> tuple[list[Finding], list[Finding], FindingsCache]:
    detector = SecretDetector()
    cache = FindingsCache(HASHER, [detector], store)
    scanner = SegmentScanner([detector], cache)
    segment = Segment(("m",), text, "user")
    return scanner.find([segment])[0], scanner.find([segment])[0], cache


def test_redis_holds_offsets_and_signed_hashes_never_text():
    secret = make.aws_secret_access_key()
    text = f"aws_secret_access_key = {secret}"
    redis = FakeRedis()
    first, second, cache = scan_twice(RedisFindings("", HASHER, client=redis), text)
    assert first == second and first and cache.stats.hits == 1
    [(key, blob)] = redis.items.items()
    assert secret.encode() not in blob and b"aws_secret_access_key" not in blob and secret not in key


def test_an_unreachable_redis_is_a_miss_not_a_skip():
    text = f"aws_secret_access_key = {make.aws_secret_access_key()}"
    first, second, cache = scan_twice(RedisFindings("", HASHER, client=DownRedis()), text)
    assert first and second == first and cache.stats.hits == 0
    # A real client pointed at a closed port: the same.
    closed = RedisFindings("redis://127.0.0.1:1/0", HASHER)
    first, second, cache = scan_twice(closed, text)
    assert second == first and cache.stats.hits == 0


@pytest.mark.parametrize("spoil", ["tag", "payload", "offsets", "garbage"])
def test_a_tampered_or_corrupt_redis_entry_is_a_miss(spoil):
    secret = make.aws_secret_access_key()
    text = f"aws_secret_access_key = {secret}"
    redis = FakeRedis()
    store = RedisFindings("", HASHER, client=redis)
    honest, _, _ = scan_twice(store, text)
    [key] = redis.items
    blob = redis.items[key]
    if spoil == "tag":  # a writer without our key empties the findings and signs with a guess
        redis.items[key] = b"\0" * 32 + b'{"secrets":[]}'
    elif spoil == "payload":
        redis.items[key] = blob[:32] + b'{"secrets":[]}'
    elif spoil == "offsets":  # even a verified entry must fit the segment it is used for
        payload = json.dumps({"secrets": [[f.kind, f.rule, 0, 10**6, f.confidence, f.detector, {}] for f in honest]}).encode()
        redis.items[key] = store._tag(key.removeprefix(store._PREFIX), payload) + payload
    else:
        redis.items[key] = b"not an entry"
    again, _, cache = scan_twice(store, text)
    assert again == honest
    assert cache.stats.hits <= 1  # the spoiled read missed; the rescan wrote a good entry back


def test_memory_in_front_of_redis_serves_a_fleet():
    text = f"aws_secret_access_key = {make.aws_secret_access_key()}"
    shared = FakeRedis()
    first, _, _ = scan_twice(TieredFindings(MemoryFindings(), RedisFindings("", HASHER, client=shared)), text)
    other = FindingsCache(HASHER, [SecretDetector()], TieredFindings(MemoryFindings(), RedisFindings("", HASHER, client=shared)))
    scanned = SegmentScanner([SecretDetector()], other).find([Segment(("m",), text, "user")])[0]
    assert scanned == first and other.stats.hits == 1


def test_memory_is_bounded_by_bytes_least_recently_used_first():
    store = MemoryFindings(max_bytes=2000)
    finding = {"secrets": (Finding("secret", "r", 0, 1, 1.0, "secrets"),)}
    for number in range(50):
        store.put(f"key{number}", finding)
        store.get("key0", 1)  # kept warm: survives every eviction
    assert store.bytes_used <= 2000
    assert store.get("key0", 1) == finding
    assert store.get("key1", 1) is None and store.get("key49", 1) == finding


def test_a_request_reads_and_writes_redis_in_one_round_trip_each():
    class Counting(FakeRedis):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[str] = []

        def mget(self, keys):
            self.calls.append("mget")
            return super().mget(keys)

        def pipeline(self, transaction=True):
            self.calls.append("pipeline")
            return super().pipeline(transaction)

    redis = Counting()
    detector = SecretDetector()
    secret = make.aws_secret_access_key()
    cache = FindingsCache(HASHER, [detector], RedisFindings("", HASHER, client=redis))
    segments = [Segment(("tools", i, "name"), f"tool_{i}", "tool") for i in range(40)]
    segments.append(Segment(("m",), f"aws_secret_access_key = {secret}", "user"))
    first = SegmentScanner([detector], cache).find(segments)
    assert redis.calls == ["mget", "pipeline"] and len(redis.items) == 41
    second = SegmentScanner([detector], cache).find(segments)  # again: every text from Redis, in one MGET
    assert redis.calls == ["mget", "pipeline", "mget"] and first == second and first[-1]
