"""Fingerprints and code regions on the shapes that used to go wrong: one-character strings,
tables and runs of like statements, and files split into many regions by their docstrings."""

from __future__ import annotations

import inspect
import json.decoder

import numpy as np

from detectors.code.fingerprint import fingerprint, is_normalised, repeated, winnow
from detectors.code.proprietary import MIN_FINGERPRINTS, MIN_TOKENS, _could_match
from detectors.code.regions import find_regions
from detectors.code.tokenizer import CODE_DELIMITER, CODE_STRING, tokenize


def test_one_character_strings_are_strings_and_triple_quotes_are_delimiters() -> None:
    tokens = tokenize('x = ","\ny = "🦖"\n"""\nz = 1\n')
    assert int(np.sum(tokens.codes == CODE_STRING)) == 2
    assert int(np.sum(tokens.codes == CODE_DELIMITER)) == 1


def test_kgrams_repeated_within_a_table_are_no_normalised_fingerprints() -> None:
    table = "colours = dict(\n" + "".join(f'    name_{i}=("colour {i}", "default"),\n' for i in range(40)) + ")\n"
    normalised = is_normalised(fingerprint(table).hashes)
    assert int(normalised.sum()) <= 4  # only the edges of the table, where it starts and ends


def test_repeated_marks_both_copies_and_nothing_else() -> None:
    hashes = np.array([1, 2, 3, 4, 5, 3, 7, 8], dtype=np.uint64)
    assert repeated(hashes, max_period=3).tolist() == [False, False, True, False, False, True, False, False]
    assert not repeated(hashes, max_period=1).any()


def test_a_pasted_module_with_docstrings_and_comments_is_one_region() -> None:
    source = inspect.getsource(json.decoder)
    regions = find_regions(source)
    assert len(regions) == 1
    assert regions[0].lines > 0.8 * sum(1 for line in source.splitlines() if line.strip())


def test_comment_blocks_and_markdown_lists_are_not_code_regions() -> None:
    comments = "\n".join(
        [
            "# Configuration variables",
            "#",
            "# JAVA",
            "#   Command to invoke Java. If not set, java (from the PATH) will be used.",
            "# JAVA_OPTIONS",
            "#   Extra options to pass to the JVM",
        ]
    )
    markdown = "## Install\n\n* run the installer\n* restart the shell\n* check `tool --version`\n"
    table = "| module | stability |\n|---|---|\n| [Path](path.html) | (2) Stable |\n| [REPL](repl.html) | (2) Stable |\n"
    html_comment = "<!-- YAML\nadded: v0.3.8\nchanges:\n  - version: v20.10.0\n-->\nThe socket is closed."
    for text in (comments, markdown, table, html_comment):
        assert find_regions(text) == [], text


def test_winnow_picks_each_window_minimum_once_in_increasing_order() -> None:
    rng = np.random.default_rng(0)
    for hashes in (rng.integers(0, 50, 500).astype(np.uint64), np.full(40, 7, dtype=np.uint64)):
        picked = winnow(hashes, 10)
        assert np.all(np.diff(picked) > 0)
        windows = np.lib.stride_tricks.sliding_window_view(hashes, 10)
        expected = np.unique(np.arange(len(windows)) + 9 - np.argmin(windows[:, ::-1], axis=1))
        assert np.array_equal(picked, expected)


def test_stretches_that_cannot_match_are_told_apart_from_those_that_might() -> None:
    # three stretches of hits (prompt fingerprint, its first token), sorted by token then fingerprint:
    # 5 fingerprints 12 tokens apart; the same fingerprint hit 8 times; 5 fingerprints 1 token apart
    dense = [(i, 12 * i) for i in range(5)]
    one = [(20, 100)] * 8
    crowded = [(30 + i, 200 + i) for i in range(5)]
    hits = dense + one + crowded
    fps, tokens = (np.array(column) for column in zip(*hits, strict=True))
    bounds = np.array([0, 5, 13, 18])
    assert MIN_FINGERPRINTS <= 5 and 5 * 12 >= MIN_TOKENS > 12 + 4
    assert _could_match(fps, tokens, bounds).tolist() == [True, False, False]


def test_re_spacing_changes_neither_which_lines_are_prose_nor_string_contents() -> None:
    # a formatter may write "a: array_like" for "a : array_like" and "10, 000" for "10,000"
    spaced = tokenize('def f(a):\n    """\n    a : array_like, optional\n    """\n    return g("10,000", a)\n')
    tight = tokenize('def f(a):\n    """\n    a: array_like, optional\n    """\n    return g("10, 000", a)\n')
    assert np.array_equal(spaced.codes, tight.codes)
    assert np.array_equal(spaced.exact, tight.exact)
    assert np.array_equal(spaced.values, tight.values)
    assert np.count_nonzero(tight.values) == 1  # "10,000" is a value
