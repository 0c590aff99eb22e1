"""The vault keeps placeholder → value sealed, per tenant, for a while, in memory, on disk or in Redis."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from llm_dlp.vault import MemoryStore, RedisStore, SqliteStore, Vault, VaultEntry, open_vault

KEY = b"m" * 32
TOKEN = "[[secret:aws-access-token:0123456789]]"
ENTRY = VaultEntry("secret", "AKIAZ3MHALF7EXAMPLE1 é")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_redis(directory: Path):
    """A private redis-server on a free loopback port, without persistence; stopped afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (scripts/test-services.sh installs it)")
    port = _free_port()
    directory.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(directory)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(params=["memory", "file", "redis"])
def vault(request, tmp_path) -> Vault:
    if request.param == "memory":
        spec = "memory"
    elif request.param == "file":
        spec = f"file:{tmp_path / 'vault.db'}"
    else:
        spec = request.getfixturevalue("redis_url")
    opened = open_vault(spec, KEY, ttl_seconds=3600)
    yield opened
    opened.close()


def test_round_trip_per_tenant(vault):
    vault.put_many("acme", {TOKEN: ENTRY})
    assert vault.get_many("acme", [TOKEN, "[[secret:x:aaaaaaaaaa]]"]) == {TOKEN: ENTRY}
    assert vault.get_many("other-tenant", [TOKEN]) == {}
    assert vault.get_many("acme", []) == {}


def test_values_are_sealed_in_the_store(tmp_path):
    store = MemoryStore()
    Vault(store, KEY).put_many("acme", {TOKEN: ENTRY})
    (blob,) = store.get_many([f"llm-dlp:vault:acme:{TOKEN}"]).values()
    assert b"AKIA" not in blob and b"secret" not in blob
    path = tmp_path / "vault.db"
    Vault(SqliteStore(path), KEY).put_many("acme", {TOKEN: ENTRY})
    assert b"AKIAZ3MHALF7" not in path.read_bytes()
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_another_key_or_a_moved_entry_does_not_open():
    store = MemoryStore()
    Vault(store, KEY).put_many("acme", {TOKEN: ENTRY})
    assert Vault(store, b"x" * 32).get_many("acme", [TOKEN]) == {}
    (blob,) = store.get_many([f"llm-dlp:vault:acme:{TOKEN}"]).values()
    store.put_many({f"llm-dlp:vault:evil:{TOKEN}": blob}, 60)  # copied under another tenant
    assert Vault(store, KEY).get_many("evil", [TOKEN]) == {}
    store.put_many({f"llm-dlp:vault:acme:{TOKEN}": blob[:-1] + bytes([blob[-1] ^ 1])}, 60)  # tampered
    assert Vault(store, KEY).get_many("acme", [TOKEN]) == {}


def test_entries_expire(tmp_path, redis_url):
    for store in (MemoryStore(), SqliteStore(tmp_path / "v.db"), RedisStore(redis_url)):
        vault = Vault(store, KEY, ttl_seconds=0.2)
        vault.put_many("acme", {TOKEN: ENTRY})
        time.sleep(0.6)
        assert vault.get_many("acme", [TOKEN]) == {}, type(store).__name__
        vault.close()


def test_a_file_vault_survives_a_restart(tmp_path):
    spec = f"file:{tmp_path / 'vault.db'}"
    first = open_vault(spec, KEY)
    first.put_many("acme", {TOKEN: ENTRY})
    first.close()
    assert open_vault(spec, KEY).get_many("acme", [TOKEN]) == {TOKEN: ENTRY}


def test_two_vaults_on_one_redis_share_entries(redis_url):
    writer, reader = open_vault(redis_url, KEY), open_vault(redis_url, KEY)
    tokens = {f"[[secret:rule:{i:010x}]]": VaultEntry("secret", f"value-{i}") for i in range(600)}
    writer.put_many("acme", tokens)
    assert reader.get_many("acme", tokens) == tokens


def test_unknown_vault_and_bad_ttl_are_refused():
    with pytest.raises(ValueError, match="unknown vault"):
        open_vault("s3://bucket", KEY)
    with pytest.raises(ValueError):
        Vault(MemoryStore(), KEY, ttl_seconds=0)


def test_memory_store_sweeps_expired_entries():
    store = MemoryStore()
    store.put_many({"old": b"x"}, ttl_seconds=-1)
    store.put_many({f"k{i}": b"y" for i in range(MemoryStore._SWEEP_EVERY)}, ttl_seconds=60)
    assert "old" not in store._items and len(store) == MemoryStore._SWEEP_EVERY
