"""Where the audit remembers what a conversation recorded: memory, a file in the confdir, Redis.

Each store is driven through the real ``RecordedFindings`` processor with decision events as the
audit log hands them over. The file and Redis stores must remember across processors (a restart,
another instance); every store must forget after its TTL; and a store that cannot be read makes
the processor record again, never less.
"""

from __future__ import annotations

import logging

import pytest

from llm_dlp.audit.recorded import RETRY_AFTER_SECONDS, RecordedFindings, recorded_key
from llm_dlp.audit.recorded_stores import (FILE_NAME, REDIS_PREFIX, FileRecorded, MemoryRecorded, RedisRecorded,
                                           open_recorded_store)
from llm_dlp.keys import load_or_create_hasher
from tests.test_vault import running_redis

USER = "jonas.lindqvist"
VALUE_HASH = "hmac-sha256:" + "ab" * 32


def decision(*hashes: str, user: str = USER, shadow: bool = False) -> dict:
    findings = [{"kind": "secret", "rule": "r", "location": f"$.messages[{n}]", "action": "redact", "value_hash": h}
                for n, h in enumerate(hashes)]
    event = {"event": "dlp.decision", "tenant": "t", "user": user, "findings": findings}
    if shadow:
        event["shadow"] = {"tenant": "t", "decision": "withhold", "findings": [dict(f, action="withhold") for f in findings]}
    return event


def record(recorded: RecordedFindings, event: dict) -> dict:
    """What the audit log does per line: run the processor, then commit once the line is written."""
    result = recorded(None, "info", event)
    recorded.commit()
    return result


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def key(tmp_path) -> bytes:
    return recorded_key(load_or_create_hasher(tmp_path / "certs").key)


def test_memory_is_bounded_and_forgets_after_its_ttl():
    clock = Clock()
    recorded = RecordedFindings(MemoryRecorded(ttl_seconds=60, max_entries=3, monotonic=clock),
                                refresh_after_seconds=20, monotonic=clock)
    assert len(record(recorded, decision("a", "b"))["findings"]) == 2
    clock.now += 30
    assert record(recorded, decision("a", "b"))["findings_already_recorded"] == 2  # seen again: kept alive
    clock.now += 50
    assert record(recorded, decision("a"))["findings"] == []  # 50 s since last seen
    clock.now += 120
    assert len(record(recorded, decision("a"))["findings"]) == 1  # forgotten after the TTL: recorded again
    record(recorded, decision("c", "d", "e"))
    assert len(recorded) == 3
    assert len(record(recorded, decision("a"))["findings"]) == 1  # pushed out by newer entries


def test_a_file_in_the_confdir_remembers_across_a_restart(tmp_path, key):
    path = tmp_path / "certs" / FILE_NAME
    first = RecordedFindings(FileRecorded(path), key=key)
    assert len(record(first, decision(VALUE_HASH, shadow=True))["findings"]) == 1
    first.close()

    restarted = RecordedFindings(FileRecorded(path), key=key)
    again = record(restarted, decision(VALUE_HASH, shadow=True))
    assert again["findings"] == [] and again["findings_already_recorded"] == 1
    assert again["shadow"]["findings"] == [] and again["shadow"]["findings_already_recorded"] == 1
    restarted.close()
    # Keyed digests only: neither the user nor the value's hash is in the file.
    data = b"".join(p.read_bytes() for p in path.parent.glob(FILE_NAME + "*"))
    assert USER.encode() not in data and VALUE_HASH.encode() not in data and b"ab" * 8 not in data
    assert path.stat().st_mode & 0o777 == 0o600


def test_another_key_makes_other_digests(tmp_path, key):
    path = tmp_path / FILE_NAME
    record(RecordedFindings(FileRecorded(path), key=key), decision(VALUE_HASH))
    other_deployment = RecordedFindings(FileRecorded(path), key=recorded_key(b"another deployment's key 32 bytes"))
    assert len(record(other_deployment, decision(VALUE_HASH))["findings"]) == 1


def test_the_file_forgets_after_its_ttl_and_keeps_at_most_its_bound(tmp_path, key):
    clock = Clock()
    store = FileRecorded(tmp_path / FILE_NAME, ttl_seconds=60, max_entries=600, clock=clock)
    recorded = RecordedFindings(store, key=key)
    record(recorded, decision("a"))
    clock.now += 61
    assert len(record(recorded, decision("a"))["findings"]) == 1
    # Past the bound, the oldest go at the next sweep (every few hundred marks).
    for n in range(4):
        clock.now += 1
        record(recorded, decision(*(f"v{n}-{i}" for i in range(300))))
    assert len(store) <= 600 + FileRecorded._TRIM_EVERY
    clock.now += 1
    for n in range(4):
        record(recorded, decision(*(f"w{n}-{i}" for i in range(300))))
    assert len(store) <= 600 + FileRecorded._TRIM_EVERY
    assert len(record(recorded, decision("a"))["findings"]) == 1  # "a" was the oldest: gone


def test_a_finding_seen_again_is_marked_again_only_when_its_mark_has_aged(tmp_path, key):
    # A turn re-sending a long history must not rewrite every known entry: an entry is marked
    # again once its mark is older than the refresh interval, so it lives at least TTL - refresh.
    clock = Clock()
    store = FileRecorded(tmp_path / FILE_NAME, ttl_seconds=100, clock=clock)
    recorded = RecordedFindings(store, key=key, refresh_after_seconds=30)
    record(recorded, decision("a"))
    clock.now += 10
    assert record(recorded, decision("a"))["findings"] == []  # known; its mark (10 s old) is kept
    clock.now += 95  # 105 s after the mark, 95 s after it was last seen
    assert len(record(recorded, decision("a"))["findings"]) == 1
    clock.now += 35
    assert record(recorded, decision("a"))["findings"] == []  # known, mark 35 s old: marked again
    clock.now += 90
    assert record(recorded, decision("a"))["findings"] == []  # alive: 90 s after the refresh


def test_an_unreadable_file_records_again_and_is_used_once_it_is_readable(tmp_path, key, caplog):
    path = tmp_path / FILE_NAME
    clock = Clock()
    before = RecordedFindings(FileRecorded(path), key=key)
    record(before, decision(VALUE_HASH))
    before.close()
    for leftover in tmp_path.glob(FILE_NAME + "-*"):  # the WAL of the closed connection
        leftover.unlink()
    path.write_bytes(b"not a database, a damaged file " * 200)

    recorded = RecordedFindings(FileRecorded(path), key=key, monotonic=clock)
    with caplog.at_level(logging.WARNING, logger="llm_dlp"):
        first = record(recorded, decision(VALUE_HASH))
        second = record(recorded, decision(VALUE_HASH))
    assert len(first["findings"]) == 1 and first["findings_already_recorded"] == 0
    assert len(second["findings"]) == 1  # within the retry pause, not even asked: recorded again
    assert "recorded again" in caplog.text and VALUE_HASH not in caplog.text

    path.unlink()  # an operator removes the damaged file
    clock.now += RETRY_AFTER_SECONDS
    assert len(record(recorded, decision(VALUE_HASH))["findings"]) == 1
    assert record(recorded, decision(VALUE_HASH))["findings"] == []  # remembered again


def test_two_instances_sharing_redis_record_a_finding_once(tmp_path, key):
    with running_redis(tmp_path / "redis") as url:
        edge_1 = RecordedFindings(open_recorded_store(url, tmp_path / "edge-1"), key=key)
        edge_2 = RecordedFindings(open_recorded_store(url, tmp_path / "edge-2"), key=key)
        assert isinstance(edge_1._store, RedisRecorded)
        assert len(record(edge_1, decision(VALUE_HASH, shadow=True))["findings"]) == 1
        on_the_other = record(edge_2, decision(VALUE_HASH, "new", shadow=True))
        assert [f["value_hash"] for f in on_the_other["findings"]] == ["new"]
        assert on_the_other["findings_already_recorded"] == 1
        assert on_the_other["shadow"]["findings_already_recorded"] == 1
        assert len(edge_1) == 4  # active and shadow, two values each; keys only under the prefix
        import redis

        client = redis.Redis.from_url(url)
        keys = client.keys("*")
        assert keys and all(k.startswith(REDIS_PREFIX.encode()) for k in keys)
        assert all(0 < client.pttl(k) <= 24 * 3600 * 1000 for k in keys)
        assert not any(USER.encode() in k for k in keys)
        assert all(float(client.get(k)) > 0 for k in keys)  # the time it was marked, nothing else
        edge_1.close()
        edge_2.close()
        assert not (tmp_path / "edge-1" / FILE_NAME).exists()  # with a Redis vault, no file


def test_a_redis_that_is_gone_records_again(tmp_path, key, caplog):
    clock = Clock()
    with running_redis(tmp_path / "redis") as url:
        recorded = RecordedFindings(RedisRecorded(url), key=key, monotonic=clock)
        record(recorded, decision(VALUE_HASH))
        assert record(recorded, decision(VALUE_HASH))["findings"] == []
    with caplog.at_level(logging.WARNING, logger="llm_dlp"):
        gone = record(recorded, decision(VALUE_HASH))
    assert len(gone["findings"]) == 1 and gone["findings_already_recorded"] == 0
    assert "recorded again" in caplog.text


def test_without_a_redis_vault_the_store_is_a_file_in_the_confdir(tmp_path):
    for vault in ("memory", f"file:{tmp_path / 'vault.sqlite'}"):
        store = open_recorded_store(vault, tmp_path / "certs")
        assert isinstance(store, FileRecorded) and store.path == tmp_path / "certs" / FILE_NAME
