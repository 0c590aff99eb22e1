"""The unpaired-surrogate check reads the body's text: the same answer as walking every string
of the parsed document, on bodies built to confuse it (escaped backslashes before ``uD8..``,
pairs, lone halves of either kind, in keys and values)."""

from __future__ import annotations

import json
import random
import re

import pytest

from llm_dlp.jsondoc import AmbiguousBodyError, parse_json

PAIRED = ["a", "\\", "\\\\", "\ud83d\ude00", "\udbff\udfff", "uD83D", "uDE00", "é", '"', "\n"]
LONE = ["\ud83d", "\ude00", "\udbff", "\udc00"]


def lone_in_document(value) -> bool:
    """The reference: any surrogate left in a decoded string is unpaired."""
    if isinstance(value, str):
        return re.search("[\ud800-\udfff]", value) is not None
    if isinstance(value, dict):
        return any(lone_in_document(k) or lone_in_document(v) for k, v in value.items())
    if isinstance(value, list):
        return any(lone_in_document(v) for v in value)
    return False


def random_text(rng: random.Random, pieces: list[str]) -> str:
    return "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))


@pytest.mark.parametrize("seed", range(40))
def test_the_text_check_agrees_with_a_walk_over_the_document(seed):
    rng = random.Random(seed)
    # a quarter of the bodies may hold lone halves anywhere, a quarter one lone half, half none
    pieces = PAIRED + ([LONE[seed // 4 % 4]] if seed % 4 == 0 else [])
    document = {random_text(rng, pieces) + str(i): [random_text(rng, pieces), {"k": random_text(rng, pieces)}] for i in range(20)}
    if seed % 4 == 2:  # one lone half, somewhere
        document["x"] = ["a" * rng.randint(0, 3) + rng.choice(LONE) + "b"]
    body = json.dumps(document)  # ensure_ascii: every non-ASCII character as \u escapes
    expected = json.loads(body)
    if seed % 4 != 0:  # the bodies built with or without a lone half are what they say
        assert lone_in_document(expected) == (seed % 4 == 2)
    if lone_in_document(expected):
        with pytest.raises(AmbiguousBodyError):
            parse_json(body)
    else:
        assert parse_json(body) == expected


def test_escaped_backslashes_before_surrogate_letters_are_plain_text():
    assert parse_json(r'{"a": "\\uD83D and \\\\uDE00"}') == {"a": "\\uD83D and \\\\uDE00"}
    with pytest.raises(AmbiguousBodyError):
        parse_json(r'{"a": "\\\uD83D"}')  # an escaped backslash, then a real lone escape
    assert parse_json(r'{"a": "\uD83D\uDE00"}') == {"a": "\U0001F600"}
    with pytest.raises(AmbiguousBodyError):
        parse_json(r'{"a": "\uDE00\uD83D"}')  # low before high: both unpaired
