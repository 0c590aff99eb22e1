"""Slow builds are stored on disk under a content key, and a bad file is only a miss."""

from __future__ import annotations

import hyperscan

from detectors.build_cache import cached_values, compiled_database


def _hits(database, data: bytes) -> list[int]:
    found: list[int] = []
    # A loaded database has no scratch of its own; the detectors give each thread one.
    database.scan(data, match_event_handler=lambda id_, start, end, flags, ctx: found.append(id_),
                  scratch=hyperscan.Scratch(database))
    return sorted(set(found))


def test_a_database_is_compiled_once_then_loaded_and_a_change_makes_a_new_one(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_DLP_CACHE_DIR", str(tmp_path))
    first = compiled_database([rb"secret\d+", rb"token"], [0, 0])
    [stored] = (tmp_path / "hyperscan").iterdir()
    again = compiled_database([rb"secret\d+", rb"token"], [0, 0])
    assert _hits(first, b"a secret42 and a token") == _hits(again, b"a secret42 and a token") == [0, 1]
    assert len(list((tmp_path / "hyperscan").iterdir())) == 1
    compiled_database([rb"secret\d+", rb"token"], [0, hyperscan.HS_FLAG_CASELESS])  # other flags
    assert len(list((tmp_path / "hyperscan").iterdir())) == 2
    # A truncated file is compiled again and rewritten, never trusted.
    stored.write_bytes(stored.read_bytes()[:40])
    rebuilt = compiled_database([rb"secret\d+", rb"token"], [0, 0])
    assert _hits(rebuilt, b"secret7 token") == [0, 1]
    assert stored.stat().st_size > 40


def test_values_are_built_once_per_key(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_DLP_CACHE_DIR", str(tmp_path))
    calls = []

    def build():
        calls.append(1)
        return {"names": frozenset({"Ada", "Grace"})}

    assert cached_values("lists", ["v1"], build) == {"names": frozenset({"Ada", "Grace"})}
    assert cached_values("lists", ["v1"], build) == {"names": frozenset({"Ada", "Grace"})}
    assert len(calls) == 1
    cached_values("lists", ["v2"], build)  # another source version: built again
    assert len(calls) == 2


def test_an_unwritable_cache_directory_only_costs_the_build(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("LLM_DLP_CACHE_DIR", str(blocker))
    assert _hits(compiled_database([rb"abc"], [0]), b"xabcx") == [0]
    assert cached_values("lists", ["v"], lambda: (1, 2)) == (1, 2)
