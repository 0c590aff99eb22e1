"""Slow builds are stored on disk under a content key, and a bad file is only a miss."""

from __future__ import annotations

import marshal

import hyperscan

from detectors import normalise as normalise_module
from detectors.build_cache import cached_values, compiled_database
from detectors.secrets import SecretDetector
from detectors.secrets.ruleset import Rule, Samples


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


def _secret_rule(rule_id: str, regex_text: str, sample: str) -> Rule:
    return Rule(id=rule_id, description=rule_id, regex=regex_text, samples=Samples(positive=(sample,)))


def test_the_secret_detector_database_is_rebuilt_when_the_rules_change_or_the_file_is_corrupt(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("LLM_DLP_CACHE_DIR", str(tmp_path))
    store = tmp_path / "hyperscan"
    first_rules = [_secret_rule("acme-token", r"acme_[0-9a-f]{24}", "token acme_0123456789abcdef01234567 here")]
    first = SecretDetector(first_rules)
    [stored] = list(store.iterdir())
    assert first.self_check(frozenset({"secret"})) == []
    assert [f.rule for f in first.scan("x acme_0123456789abcdef01234567 y")] == ["acme-token"]

    # Another rule set: its own database, and the first file is not what the new detector scans with.
    changed = [_secret_rule("acme-token", r"acme_[0-9a-f]{24}", "token acme_0123456789abcdef01234567 here"),
               _secret_rule("zeta-key", r"zeta-[A-Z0-9]{20}", "key zeta-ABCDEFGHIJ0123456789 end")]
    second = SecretDetector(changed)
    assert len(list(store.iterdir())) == 2
    assert [f.rule for f in second.scan("key zeta-ABCDEFGHIJ0123456789 end")] == ["zeta-key"]
    assert first.scan("key zeta-ABCDEFGHIJ0123456789 end") == []

    # A corrupt file (same name, garbage inside) is compiled again, rewritten, and works.
    stored.write_bytes(b"\0not a hyperscan database" * 8)
    rebuilt = SecretDetector(first_rules)
    assert rebuilt.self_check(frozenset({"secret"})) == []
    assert [f.rule for f in rebuilt.scan("x acme_0123456789abcdef01234567 y")] == ["acme-token"]
    assert hyperscan.loadb(stored.read_bytes(), hyperscan.HS_MODE_BLOCK) is not None


def test_the_normalise_table_is_rebuilt_from_a_corrupt_cache_file(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_DLP_CACHE_DIR", str(tmp_path))
    normalise_module._fold.cache_clear()
    try:
        expected = normalise_module._fold_table()[0]
        assert normalise_module._fold().table == expected
        [stored] = list((tmp_path / "values").glob("normalise-fold-*"))
        for damage in (b"garbage", marshal.dumps(("a", "b"))):  # unreadable; readable but misshapen
            stored.write_bytes(damage)
            normalise_module._fold.cache_clear()
            assert normalise_module._fold().table == expected
        assert normalise_module.normalise("AKIA\u200bＡＢ").text == "AKIAAB"
    finally:
        normalise_module._fold.cache_clear()


def test_a_stored_value_of_the_wrong_shape_is_built_again(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_DLP_CACHE_DIR", str(tmp_path))
    assert cached_values("pairs", ["v"], lambda: [(b"x", 1)]) == [(b"x", 1)]
    [stored] = list((tmp_path / "values").iterdir())
    stored.write_bytes(marshal.dumps("not a list of pairs"))
    is_pairs = lambda value: isinstance(value, list) and all(isinstance(v, tuple) for v in value)  # noqa: E731
    assert cached_values("pairs", ["v"], lambda: [(b"y", 2)], valid=is_pairs) == [(b"y", 2)]
    assert marshal.loads(stored.read_bytes()) == [(b"y", 2)]
