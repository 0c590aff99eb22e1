"""``llm_dlp_vault_entries``: each store counts its live entries under the vault's prefix, and the
gauge asks at most once per interval (a shared Redis is walked with SCAN, not on every scrape)."""

from __future__ import annotations

import math

import pytest

from llm_dlp.metrics import CachedReading, Metrics
from llm_dlp.testing.proxyrun import wait_until
from llm_dlp.vault import MemoryStore, RedisStore, SqliteStore, Vault, VaultEntry
from tests.test_vault import running_redis

KEY = b"k" * 32
PREFIX = "llm-dlp:vault:"  # what addons/admin.py counts


def _fill(store) -> None:
    vault = Vault(store, KEY, ttl_seconds=3600)
    vault.put_many("default:alice", {f"[[secret:aws:{n}]]": VaultEntry("secret", f"value {n}") for n in range(5)})
    vault.put_many("default:bob", {"[[pii:email:1]]": VaultEntry("pii", "b@example.com")})
    store.put_many({"llm-dlp:scan-cache:x": b"1", "llm-dlp:vaultish": b"2"}, 3600)  # other keys in the same store
    store.put_many({PREFIX + "gone": b"3"}, 0.001)  # expires at once (Redis: after a millisecond)
    wait_until(lambda: not store.get_many([PREFIX + "gone"]))


@pytest.mark.parametrize("make", [lambda tmp: MemoryStore(), lambda tmp: SqliteStore(tmp / "vault.db")],
                         ids=["memory", "file"])
def test_local_stores_count_live_vault_entries_only(tmp_path, make):
    store = make(tmp_path)
    assert store.count(PREFIX) == 0
    _fill(store)
    assert store.count(PREFIX) == 6
    store.close()


def test_redis_counts_vault_keys_by_prefix(tmp_path):
    with running_redis(tmp_path / "redis") as url:
        store = RedisStore(url)
        _fill(store)
        store._client.set("other:app:key", b"x")  # a Redis shared with something else
        assert store.count(PREFIX) == 6
        assert store.count("llm-dlp:vault:default:bob:") == 1
        store.close()


def test_the_gauge_reads_at_most_once_per_interval_and_says_nan_on_failure():
    readings = iter([3, 7])
    cached = CachedReading(lambda: next(readings), max_age=3600)
    assert (cached(), cached()) == (3.0, 3.0)  # the second scrape did not walk the store again
    fresh = CachedReading(lambda: next(readings), max_age=0)
    assert fresh() == 7.0

    def broken() -> int:
        raise ConnectionError("redis went away")

    assert math.isnan(CachedReading(broken, max_age=0)())

    metrics = Metrics.create("edge-1")
    store = MemoryStore()
    _fill(store)
    metrics.watch_vault(lambda: store.count(PREFIX))
    assert "llm_dlp_vault_entries 6.0" in metrics.exposition().decode()
