"""What the proprietary-code index counts as evidence: shapes that keep which names are equal,
values that survive a rename, prose that is never code, boilerplate only around what names the
file, identical copies reported together, and an index written by an older version refused with
the command that rebuilds it."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from detectors.code import ProprietaryCodeDetector
from detectors.code.edits import rename_identifiers
from detectors.code.fingerprint import (
    _mix,
    _powers,
    _previous_same,
    fingerprint,
    is_exact,
    is_normalised,
    kgram_hashes,
    shape_hashes,
)
from detectors.code.index_store import (
    DB_NAME,
    SCHEMA_VERSION,
    OutdatedIndexError,
)
from detectors.code.tokenizer import CODE_NAME, CODE_STRING, tokenize

LEDGER = '''
def settle_invoice(ledger, invoice_id, amount, currency="EUR"):
    entry = ledger.lookup(invoice_id)
    if entry is None:
        raise KeyError(f"unknown invoice {invoice_id}")
    if entry.currency != currency:
        amount = ledger.convert(amount, currency, entry.currency)
    remaining = entry.outstanding - amount
    ledger.record(invoice_id, paid=amount, remaining=max(remaining, 0))
    if remaining <= 0:
        ledger.close(invoice_id)
    return remaining
'''


def _reference_shape(codes: np.ndarray, previous: np.ndarray, renameable: np.ndarray, k: int, seed: int) -> np.ndarray:
    """The definition ``shape_hashes`` rolls in O(n): per k-gram, a polynomial over its tokens
    where a renameable token repeating one inside the k-gram is coded by the distance to it."""
    base = _mix(codes)
    hashes = []
    for start in range(len(codes) - k + 1):
        total = 0
        for offset in range(k):
            at = start + offset
            if renameable[at] and previous[at] <= offset:
                reference = np.array([previous[at] + 0x5EF0_0000_0000_0000 + int(codes[at] == CODE_STRING)], dtype=np.uint64)
                code = int(_mix(reference)[0])
            else:
                code = int(base[at])
            total = (total + code * pow(1_000_003, k - 1 - offset, 1 << 64)) % (1 << 64)
        hashes.append(total)
    return _mix(np.array(hashes, dtype=np.uint64) ^ np.uint64(seed))


def test_rolled_shape_hashes_equal_their_definition() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        n, k = int(rng.integers(5, 60)), int(rng.integers(2, 13))
        exact = rng.integers(0, 6, n).astype(np.uint64)
        codes = np.where(exact < 3, CODE_NAME, np.where(exact == 3, CODE_STRING, exact + np.uint64(40)))
        renameable = (codes == CODE_NAME) | (codes == CODE_STRING)
        previous = _previous_same(exact)
        expected = _reference_shape(codes, previous, renameable, k, 7)
        assert np.array_equal(shape_hashes(codes, previous, renameable, k, 7, _powers(n)), expected)


def test_shapes_tell_which_names_are_the_same_and_survive_consistent_renaming() -> None:
    def shape(text: str) -> np.ndarray:
        tokens = tokenize(text)
        renameable = (tokens.codes == CODE_NAME) | (tokens.codes == CODE_STRING)
        return shape_hashes(tokens.codes, _previous_same(tokens.exact), renameable, 5)

    same = "a = b + a\nc = d + c\n"
    renamed = "total = step + total\nx = y + x\n"
    other = "a = b + c\nd = e + f\n"
    assert np.array_equal(shape(same), shape(renamed))
    assert not np.array_equal(shape(same), shape(other))
    # the plain shape (every name a ``V``) cannot tell them apart
    assert np.array_equal(kgram_hashes(tokenize(same).codes, 5), kgram_hashes(tokenize(other).codes, 5))


def test_string_values_survive_a_rename_that_rewrites_words_inside_strings() -> None:
    original = tokenize("check(parse('1977-03-02T12:30'), 'datetime64[D]', '%s=%d', \"name\", 'a-b', 'привет', 12)")
    renamed = tokenize("check(parse('1977-03-02T12:30'), 'obj_7[x_3]', '%tmp_1=%d', \"cfg_2\", 'c-d', 'привет', 12)")
    assert np.array_equal(original.values, renamed.values)
    kept = original.values[original.values != 0]
    # the date, the word-shaped 'datetime64[D]', the format, the Cyrillic word and the number;
    # "name" and 'a-b' are too little but words to tell a table apart
    assert len(kept) == 5


def test_shouted_licence_lines_and_docstrings_naming_calls_are_prose() -> None:
    licence = (
        'THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS\n'
        '"AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT\n'
        'LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE,\n'
    )
    docstring = "    Used by queue consumers. For each get() used to fetch a task,\n"
    assert len(tokenize(licence).codes) == 0
    assert len(tokenize(docstring).codes) == 0
    code = "DEFAULT_TIMEOUT = (CONNECT, READ)\nresult = fetch()\n"
    assert len(tokenize(code).codes) == 12


def test_a_renamed_table_of_values_keeps_its_literal_fingerprints_and_a_table_of_words_has_none() -> None:
    def literal_prints(text: str) -> set[int]:
        hashes = fingerprint(text).hashes
        return set(hashes[~is_normalised(hashes) & ~is_exact(hashes)].tolist())

    dates = "DATES = [\n" + "".join(f'    "2024-{1 + i % 12:02d}-{1 + i % 28:02d}",\n' for i in range(60)) + "]\n"
    words = "NAMES = [\n" + "".join(f'    "word{chr(97 + i % 26)}{i}",\n' for i in range(60)) + "]\n"
    rng = random.Random(0)
    assert literal_prints(dates) and literal_prints(rename_identifiers(dates, rng)) == literal_prints(dates)
    assert literal_prints(words) == set()


@pytest.fixture()
def index_of_copies(code_index) -> Path:
    """Three identical copies of one module and one unrelated module, indexed."""
    copies = {name: LEDGER for name in ("billing_eu.py", "billing_us.py", "billing_uk.py")}
    return code_index(copies | {"other.py": "import os\n\nprint(os.getcwd())\n"}, "billing")


def test_identical_copies_are_reported_with_the_match(index_of_copies: Path) -> None:
    findings = ProprietaryCodeDetector(index_of_copies).scan(f"Why does this fail?\n\n{LEDGER}")
    assert len(findings) == 1
    details = findings[0].details
    paths = {details["path"]} | {copy["path"] for copy in details["copies"]}
    assert paths == {"billing_eu.py", "billing_us.py", "billing_uk.py"}
    assert details["copies_total"] == 2
    assert all(copy["line_start"] <= copy["line_end"] for copy in details["copies"])


def test_an_index_of_an_older_version_is_refused_until_rebuilt(index_of_copies: Path) -> None:
    with sqlite3.connect(index_of_copies / DB_NAME) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    with pytest.raises(OutdatedIndexError, match="llm-dlp index build"):
        ProprietaryCodeDetector(index_of_copies).table()


CODEC = '''
class Codec(codecs.Codec):
    def encode(self, input, errors="strict"):
        return codecs.charmap_encode(input, errors, encoding_table)

    def decode(self, input, errors="strict"):
        return codecs.charmap_decode(input, errors, decoding_table)


class IncrementalEncoder(codecs.IncrementalEncoder):
    def encode(self, input, final=False):
        return codecs.charmap_encode(input, self.errors, encoding_table)[0]


class IncrementalDecoder(codecs.IncrementalDecoder):
    def decode(self, input, final=False):
        return codecs.charmap_decode(input, self.errors, decoding_table)[0]


def getregentry():
    return codecs.CodecInfo(
        name=NAME,
        encode=Codec().encode,
        decode=Codec().decode,
        incrementalencoder=IncrementalEncoder,
        incrementaldecoder=IncrementalDecoder,
    )
'''


def _codec(number: int) -> str:
    own = f'NAME = "cp{number}"\nALIASES = ("{number}", "ibm-{number}", "csibm{number}", "x-{number}")\n'
    return "import codecs\n" + own + CODEC


def test_boilerplate_counts_around_what_names_the_file_and_not_alone(code_index) -> None:
    # more files share the block than any boilerplate limit
    index_dir = code_index({f"cp{number}.py": _codec(number) for number in range(1000, 1080)}, "codecs")
    detector = ProprietaryCodeDetector(index_dir)
    findings = detector.scan(f"Is this right?\n\n{_codec(1042)}")
    assert [f.details["path"] for f in findings] == ["cp1042.py"]
    assert detector.scan(f"Is this right?\n\nimport codecs\n{CODEC}") == []


def test_a_stretch_of_shape_hits_alone_is_skipped_below_the_shape_minimum() -> None:
    from detectors.code.proprietary import MIN_SHAPE_FINGERPRINTS, _could_match

    fps = np.arange(6)  # six distinct fingerprints, 12 tokens apart: enough tokens, too few shapes
    tokens = 12 * fps
    bounds = np.array([0, 6])
    assert 6 < MIN_SHAPE_FINGERPRINTS
    assert _could_match(fps, tokens, bounds).tolist() == [True]
    assert _could_match(fps, tokens, bounds, np.zeros(6, dtype=bool)).tolist() == [False]
    assert _could_match(fps, tokens, bounds, np.eye(6, dtype=bool)[2]).tolist() == [True]


def test_the_two_level_key_search_finds_what_searchsorted_finds(index_of_copies: Path) -> None:
    table = ProprietaryCodeDetector(index_of_copies).table()
    rng = np.random.default_rng(0)
    present = table.keys[rng.integers(0, len(table.keys), 500)]
    absent = rng.integers(0, 2**63, 500, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    needles = np.concatenate((present, absent, np.array([0, 2**64 - 1], dtype=np.uint64)))
    assert np.array_equal(table._slots(needles), np.searchsorted(table.keys, needles))
