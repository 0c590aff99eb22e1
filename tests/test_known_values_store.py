"""Known values kept where the vault is: a file in the confdir, or the vault's Redis.

Driven through the real ``Pipeline`` and ``KnownValues`` with real stores: a value redacted by a
keyword-gated rule comes back bare, in a process that did not redact it (a restart on the same
file, another instance on the same Redis), and is still redacted to the same placeholder. The
stores hold sealed entries only; an entry sealed for the vault, for another tenant or under
another key does not open; a store that fails leaves every detector scanning and warns once per
retry interval.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from contextlib import closing

import pytest
import redis

from detectors.secrets import SecretDetector
from llm_dlp.known_stores import FILE_NAME, REDIS_PREFIX, FileKnown, RedisKnown, open_known_store
from llm_dlp.known_values import (PURPOSE, RETRY_AFTER_SECONDS, STORED_PER_TENANT, SYNC_INTERVAL_SECONDS, KnownValues,
                                  open_known_values)
from llm_dlp.keys import ValueHasher
from llm_dlp.pipeline import Pipeline, RequestInfo
from llm_dlp.policy.loader import load_policy_dir
from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.proxyrun import REPO
from llm_dlp.vault import MemoryStore, Vault, VaultEntry
from llm_dlp.vault.sealing import Sealer, UnsealError
from llm_dlp.verdict import Redaction
from tests.test_vault import running_redis

KEY = b"k" * 32
INFO = RequestInfo("r", "POST", "api.example", "/v1/messages", "anthropic")
POLICIES = load_policy_dir(REPO / "policies")


class Clock:
    """Monotonic time the test moves by hand (the sync interval, the retry interval)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Counting:
    """A store that counts the calls made to it."""

    def __init__(self, store) -> None:
        self.store = store
        self.calls: list[str] = []

    def __getattr__(self, name):
        method = getattr(self.store, name)

        def counted(*args, **kwargs):
            self.calls.append(name)
            return method(*args, **kwargs)

        return counted


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


def body(*texts: str) -> bytes:
    return json.dumps({"model": "m", "max_tokens": 5,
                       "messages": [{"role": "user", "content": text} for text in texts]}).encode()


def pipeline(known: KnownValues) -> Pipeline:
    return Pipeline(POLICIES, [SecretDetector()], ValueHasher(KEY), known=known)


def redacted_once(known: KnownValues) -> tuple[str, str]:
    """A secret redacted by its keyword-gated rule; returns (secret, placeholder)."""
    secret = make.aws_secret_access_key()
    first = pipeline(known).inspect(INFO, body(f"aws_secret_access_key = {secret}"))
    assert first.verdict.decision == "redact"
    [token] = first.redactions
    return secret, token


def bare(secret: str) -> str:
    text = f"I replaced it with {secret} as you said"
    assert not [f for f in SecretDetector().scan(text) if f.rule == "aws-secret-access-key"]  # no keyword near it
    return text


def forwarded_bare(known: KnownValues, secret: str) -> str:
    """What goes upstream for a turn whose only occurrence of ``secret`` is bare."""
    inspection = pipeline(known).inspect(INFO, body(bare(secret)))
    if inspection.body is None:
        return json.loads(body(bare(secret)))["messages"][0]["content"]
    return json.loads(inspection.body)["messages"][0]["content"]


def test_a_restart_on_the_same_file_still_redacts_a_bare_value_to_the_same_placeholder(tmp_path):
    first = open_known_values("memory", tmp_path, KEY)
    secret, token = redacted_once(first)
    first.close()

    restarted = open_known_values("memory", tmp_path, KEY)
    restarted.load(["default"])
    assert forwarded_bare(restarted, secret) == f"I replaced it with {token} as you said"
    # Without the file, the same turn would have gone out in clear: the detector alone misses it.
    assert forwarded_bare(KnownValues(), secret) == bare(secret)
    raw = b"".join(path.read_bytes() for path in tmp_path.glob(FILE_NAME + "*"))
    assert raw and secret.encode() not in raw
    assert oct((tmp_path / FILE_NAME).stat().st_mode & 0o777) == "0o600"


def test_two_instances_on_one_redis_pick_up_each_other_s_values_with_one_read_per_second(redis_url):
    clock = Clock()
    stores = [Counting(open_known_store(redis_url, "unused", ttl_seconds=3600, max_entries=STORED_PER_TENANT))
              for _ in range(2)]
    a, b = (KnownValues(store=store, key=KEY, ttl_seconds=3600, monotonic=clock) for store in stores)
    a.load(["default"])
    b.load(["default"])
    secret, token = redacted_once(a)

    # b read at start-up a moment ago: it does not ask again within the interval, however many
    # segments a request has.
    before = len(stores[1].calls)
    for _ in range(50):
        b.scan("default", bare(secret))
    assert stores[1].calls[before:] == []
    clock.now += SYNC_INTERVAL_SECONDS
    assert forwarded_bare(b, secret) == f"I replaced it with {token} as you said"
    assert stores[1].calls[before:] == ["after"]  # one read for the whole request
    # And back: a value b redacts reaches a.
    other, other_token = redacted_once(b)
    clock.now += SYNC_INTERVAL_SECONDS
    assert forwarded_bare(a, other) == f"I replaced it with {other_token} as you said"

    # Redis holds the entries, sealed: no value in any key's raw bytes.
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=REDIS_PREFIX + "*"))
    assert keys == [(REDIS_PREFIX + "default").encode()]
    assert client.xlen(keys[0]) == 2
    raw = b"".join(client.dump(key) for key in client.scan_iter())
    assert secret.encode() not in raw and other.encode() not in raw
    client.delete(*keys)


def test_a_value_is_written_once_and_again_only_when_its_entry_is_half_a_ttl_old(tmp_path):
    wall = Clock()
    store = Counting(FileKnown(tmp_path / FILE_NAME, ttl_seconds=100, max_entries=10, clock=wall))
    known = KnownValues(store=store, key=KEY, ttl_seconds=100, clock=wall)
    value = [Redaction("secret", "r", "a-value-of-some-length")]
    for _ in range(5):  # a coding agent re-sends its history, redacted again every turn
        known.remember("t", value)
    assert store.calls.count("append") == 1
    wall.now += 51
    known.remember("t", value)
    assert store.calls.count("append") == 2
    wall.now += 101  # past the TTL of both entries: a new process finds nothing
    fresh = KnownValues(store=FileKnown(tmp_path / FILE_NAME, ttl_seconds=100, max_entries=10, clock=wall), key=KEY)
    assert fresh.scan("t", "a-value-of-some-length") == []


def test_the_file_keeps_at_most_max_entries_per_tenant(tmp_path):
    store = FileKnown(tmp_path / FILE_NAME, ttl_seconds=3600, max_entries=300)
    for start in range(0, 900, 10):
        store.append("t", [b"x%d" % n for n in range(start, start + 10)])
    store.append("other", [b"y"])
    newest = store.newest("t")
    assert len(newest.entries) == 300 and newest.entries[-1].blob == b"x899"
    assert [entry.blob for entry in store.after("t", newest.cursor).entries] == []
    store.append("t", [b"z"])
    assert [entry.blob for entry in store.after("t", newest.cursor).entries] == [b"z"]
    with closing(sqlite3.connect(store.path)) as db:
        (total,) = db.execute("SELECT COUNT(*) FROM known WHERE tenant = 't'").fetchone()
    assert total <= 300 + FileKnown._TRIM_EVERY
    assert [entry.blob for entry in store.newest("other").entries] == [b"y"]


def test_a_redis_stream_forgets_entries_older_than_the_ttl(redis_url):
    client = redis.Redis.from_url(redis_url)
    store = RedisKnown(redis_url, ttl_seconds=60, max_entries=100, client=client)
    store.append("expiring", [b"blob"])
    assert [entry.blob for entry in store.newest("expiring").entries] == [b"blob"]
    assert 0 < client.pttl(REDIS_PREFIX + "expiring") <= 60_000
    later = RedisKnown(redis_url, ttl_seconds=60, max_entries=100, client=client,
                       clock=lambda: time.time() + 61)
    assert later.newest("expiring").entries == ()
    client.delete(REDIS_PREFIX + "expiring")


def test_entries_open_only_for_their_purpose_tenant_and_key(tmp_path):
    store = Counting(FileKnown(tmp_path / FILE_NAME, ttl_seconds=3600, max_entries=100))
    KnownValues(store=store, key=KEY).remember("acme", [Redaction("secret", "r", "a-value-of-some-length")])
    [entry] = store.newest("acme").entries
    # Copied under another tenant, or read with another deployment key: nothing is found.
    store.append("evil", [entry.blob])
    assert KnownValues(store=store, key=KEY).scan("evil", "a-value-of-some-length") == []
    assert KnownValues(store=store, key=b"x" * 32).scan("acme", "a-value-of-some-length") == []
    assert [f.rule for f in KnownValues(store=store, key=KEY).scan("acme", "a-value-of-some-length")] == ["r"]
    # A vault entry and a known-value entry are sealed under keys of different purposes.
    vault_store = MemoryStore()
    Vault(vault_store, KEY).put_many("acme", {"[[secret:r:0123456789]]": VaultEntry("secret", "a-value")})
    (vault_blob,) = vault_store.get_many(["llm-dlp:vault:acme:[[secret:r:0123456789]]"]).values()
    with pytest.raises(UnsealError):
        Sealer(KEY, PURPOSE).open(vault_blob, b"llm-dlp:vault:acme:[[secret:r:0123456789]]")
    store.append("acme", [vault_blob])
    assert KnownValues(store=store, key=KEY).scan("acme", "a-value and more") == []


def test_a_damaged_file_leaves_every_detector_scanning_and_warns_once_per_interval(tmp_path, caplog):
    path = tmp_path / FILE_NAME
    path.write_bytes(b"\x00damaged\x00" * 512)
    clock = Clock()
    known = KnownValues(store=FileKnown(path, ttl_seconds=3600, max_entries=100), key=KEY, monotonic=clock)
    caplog.set_level(logging.WARNING, logger="llm_dlp")
    known.load(["default"])
    redacted = []
    for _ in range(5):  # each request is still inspected; the keyword-gated rule still redacts
        secret, token = redacted_once(known)
        redacted.append((secret, token))
        assert forwarded_bare(known, secret) == f"I replaced it with {token} as you said"  # from memory
    warnings = [r for r in caplog.records if "store of values redacted earlier" in r.getMessage()]
    assert len(warnings) == 1
    # Repaired (here: removed) and past the retry interval: the store is used again, and the
    # values remembered meanwhile are written to it.
    path.unlink()
    clock.now += RETRY_AFTER_SECONDS
    redacted_once(known)
    restarted = KnownValues(store=FileKnown(path, ttl_seconds=3600, max_entries=100), key=KEY)
    restarted.load(["default"])
    for secret, token in redacted:
        assert forwarded_bare(restarted, secret) == f"I replaced it with {token} as you said"


def test_an_unreachable_redis_does_not_stop_a_request(caplog):
    store = RedisKnown("redis://127.0.0.1:1/0", ttl_seconds=60, max_entries=100)
    known = KnownValues(store=store, key=KEY)
    caplog.set_level(logging.WARNING, logger="llm_dlp")
    secret, token = redacted_once(known)
    assert forwarded_bare(known, secret) == f"I replaced it with {token} as you said"
    assert len([r for r in caplog.records if "store of values redacted earlier" in r.getMessage()]) == 1
