"""Secrets hidden with invisible characters or lookalikes are found, and the finding covers
exactly the original characters, the invisible ones inside the value included."""

from __future__ import annotations

import random

import pytest

from detectors.normalise import normalise
from detectors.secrets import SecretDetector
from llm_dlp.testing import secrets_factory as make

detector = SecretDetector()
ZERO_WIDTHS = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\ufe0f", "\u202e", "\U000e0041", "\u034f"]
# Cyrillic and Greek letters that look like the Latin ones of AKIA / ghp.
CYRILLIC = str.maketrans({"A": "\u0410", "K": "\u039a", "I": "\u0406", "p": "\u0440", "o": "\u043e", "e": "\u0435"})


def scatter(value: str, marks: list[str], seed: int = 1) -> str:
    """``value`` with a mark between every few characters."""
    rng = random.Random(seed)
    out = []
    for i, char in enumerate(value):
        out.append(char)
        if i % 3 == 1 and i < len(value) - 1:
            out.append(rng.choice(marks))
    return "".join(out)


def only_finding(text: str, rule: str):
    found = [f for f in detector.scan(text) if f.rule == rule]
    assert len(found) == 1, (rule, [(f.rule, f.start, f.end) for f in detector.scan(text)])
    return found[0]


@pytest.mark.parametrize("mark", ZERO_WIDTHS)
def test_zero_width_inside_an_aws_key_id(mark: str) -> None:
    key = make.aws_access_key_id()
    hidden = key[:4] + mark + key[4:10] + mark + key[10:]
    text = f"aws_access_key_id = {hidden}\nregion = eu-west-1\n"
    finding = only_finding(text, "aws-access-token")
    assert text[finding.start : finding.end] == hidden  # the marks inside go with the value
    assert finding.details["normalised"] is True


def test_zero_width_all_through_a_github_token() -> None:
    token = make.github_pat()
    hidden = scatter(token, ZERO_WIDTHS)
    text = f"export GITHUB_TOKEN={hidden}\n"
    finding = only_finding(text, "github-pat")
    assert text[finding.start : finding.end] == hidden


def test_zero_width_inside_a_pem_private_key() -> None:
    pem = make.private_key_pem()
    lines = pem.splitlines(keepends=True)
    lines[0] = lines[0].replace("PRIVATE", "PRI\u200bVATE")
    lines[3] = scatter(lines[3], ["\u200b", "\u2060"])
    hidden = "".join(lines)
    text = f"key file:\n{hidden}done\n"
    finding = only_finding(text, "private-key")
    assert text[finding.start : finding.end] == hidden.rstrip("\n")


def test_cyrillic_and_greek_lookalikes_in_tokens() -> None:
    key, token = make.aws_access_key_id(), make.github_pat()
    disguised_key, disguised_token = key.translate(CYRILLIC), token.translate(CYRILLIC)
    assert disguised_key != key and disguised_token != token
    text = f"id: {disguised_key}\ntoken: {disguised_token}\n"
    assert text[slice(*_span(text, "aws-access-token"))] == disguised_key
    assert text[slice(*_span(text, "github-pat"))] == disguised_token


def test_fullwidth_letters_and_digits() -> None:
    key = make.aws_access_key_id()
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in key)  # ＡＫＩＡ０１２...
    text = f"key={fullwidth} ok"
    assert text[slice(*_span(text, "aws-access-token"))] == fullwidth


def _span(text: str, rule: str) -> tuple[int, int]:
    finding = only_finding(text, rule)
    return finding.start, finding.end


def test_ascii_text_is_not_copied() -> None:
    assert normalise("plain ascii text with AKIA and ghp_") is None


def test_text_with_nothing_to_fold_is_not_copied() -> None:
    assert normalise("Grüße aus München, 東京 😀") is None


@pytest.mark.parametrize("seed", range(20))
def test_every_span_maps_back_onto_the_characters_it_came_from(seed: int) -> None:
    # Random text of ASCII, invisible characters, lookalikes and expansions (ﬁ -> fi): every
    # ASCII letter of the folded text maps back to itself or to the character it folded from.
    rng = random.Random(seed)
    pool = list("abcXYZ019 -") + ZERO_WIDTHS + ["\u0410", "\uff21", "\ufb01", "\u2460", "é", "東"]
    text = "".join(rng.choice(pool) for _ in range(300))
    folded = normalise(text)
    assert folded is not None
    for start in range(len(folded.text)):
        for end in range(start + 1, min(start + 6, len(folded.text)) + 1):
            a, b = folded.original_span(start, end)
            assert 0 <= a < b <= len(text)
            refolded = normalise(text[a:b])
            assert folded.text[start:end] in (refolded.text if refolded else text[a:b])
            # Nothing invisible at either end is taken along.
            assert text[a] not in ZERO_WIDTHS and text[b - 1] not in ZERO_WIDTHS


def test_a_lookalike_word_in_prose_is_not_a_secret() -> None:
    prose = "Привет, это обычный текст про погоду и про кофе, без ключей и паролей. " * 20
    assert detector.scan(prose) == []
