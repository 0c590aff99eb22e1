"""Winnowing fingerprints over normalised tokens (Schleimer, Wilkerson & Aiken, SIGMOD 2003).

``tokenizer.py`` turns text into normalised tokens; this module hashes every ``K`` consecutive
tokens and keeps, in every window of ``W`` consecutive hashes, the rightmost minimum. Any shared
run of at least ``K + W - 1`` normalised tokens therefore shares at least one fingerprint,
whatever surrounds it.

A normalised shape alone is shared by hundreds of files in a large code base (deprecation
shims, lists of strings, test tables), so every file is fingerprinted three times, each family
told apart by the lowest two bits of its hashes:

- normalised: the shape, where a name or string that repeats one earlier in the same k-gram is
  coded by how far back it is (``shape_hashes``; consistent renaming keeps which names are equal);
- exact: names and string contents kept (tells the copies of one shape apart);
- literal: names renamed as in the shape, strings and numbers kept (k-grams with at least two
  literals only): renaming leaves literals alone, so tables and lists of strings, which have no
  shape of their own, are still found after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detectors.code.tokenizer import CODE_NAME, CODE_STRING, Tokens, tokenize

K = 12  # tokens per hashed k-gram (noise threshold)
# k-grams per winnowing window; guarantee threshold = K + W - 1 tokens. Renamed code has only its
# shape to be found by: 8 (was 10) finds 0.5 points more renamed excerpts on the development draws
# for a 10% bigger index and +0.4 ms lookup; 6 found 0.3 more but with false positives (6/7200).
W = 8
# Exact-token fingerprints only need to tell copies of a shape apart: half as dense is enough.
W_EXACT = 20
# Literal fingerprints (names renamed, values kept) as sparse as the exact ones: twice as dense
# found no more renamed excerpts on the development draws, in a bigger index.
W_LITERAL = 20
# ... and only k-grams holding this many strings or numbers are literal fingerprints; with fewer
# they are the normalised shape again, under the higher boilerplate limit of the specific families.
MIN_LITERALS = 2
SEED_NORMAL = 0
SEED_EXACT = 0x5851F42D4C957F2D
SEED_LITERAL = 0x2545F4914F6CDD1D
# The lowest two bits of a fingerprint name its family (their boilerplate limits differ).
_FAMILY_BITS = np.uint64(3)
_NORMAL, _EXACT, _LITERAL = np.uint64(0), np.uint64(1), np.uint64(2)


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads polynomial hashes so window minima are unbiased."""
    z = values + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


_POLY = 1_000_003  # odd, so invertible modulo 2**64: k-gram sums roll in O(n)
_POLY_INVERSE = pow(_POLY, -1, 1 << 64)


Powers = tuple[np.ndarray, np.ndarray]


def _powers(n: int) -> Powers:
    """(POLY**i, POLY**-i) for i < n, modulo 2**64."""
    with np.errstate(over="ignore"):
        powers = np.full(n, _POLY, dtype=np.uint64)
        inverse = np.full(n, _POLY_INVERSE, dtype=np.uint64)
        if n:
            powers[0] = inverse[0] = 1
        return np.cumprod(powers, dtype=np.uint64), np.cumprod(inverse, dtype=np.uint64)


def kgram_hashes(codes: np.ndarray, k: int = K, seed: int = SEED_NORMAL, powers: Powers | None = None) -> np.ndarray:
    """One 64-bit hash per k-gram of token codes (position i covers tokens i .. i+k-1)."""
    return _rolling(_mix(codes), k, seed, powers or _powers(len(codes)))


def _rolling(values: np.ndarray, k: int, seed: int, powers: Powers, corrections: np.ndarray | None = None) -> np.ndarray:
    """Per k-gram starting at s: mix(sum of values[s + j] * POLY**(k-1-j) (+ corrections[s])).

    Rolled in O(n) rather than summing k products per position: with weights POLY**-t, the sum
    over a window is a difference of prefix sums, scaled back by POLY**(s+k-1).
    """
    n = len(values)
    if n < k:
        return np.zeros(0, dtype=np.uint64)
    powers, inverse = powers
    with np.errstate(over="ignore"):
        prefix = np.zeros(n + 1, dtype=np.uint64)
        np.cumsum(values * inverse, out=prefix[1:])
        sums = prefix[k:] - prefix[: n - k + 1]
        if corrections is not None:
            sums += corrections
        return _mix(sums * powers[: n - k + 1] * np.uint64(pow(_POLY, k - 1, 1 << 64)) ^ np.uint64(seed))


def _previous_same(exact: np.ndarray) -> np.ndarray:
    """Per token: how many tokens back the same exact token was last seen (a large number if never)."""
    n = len(exact)
    order = np.argsort(exact, kind="stable")  # equal tokens stay in stream order
    distance = np.full(n, n + K, dtype=np.int64)
    same = exact[order][1:] == exact[order][:-1]
    distance[order[1:][same]] = order[1:][same] - order[:-1][same]
    return distance


def shape_hashes(
    codes: np.ndarray, previous: np.ndarray, renameable: np.ndarray, k: int = K, seed: int = SEED_NORMAL, powers: Powers | None = None
) -> np.ndarray:
    """One hash per k-gram of ``codes``, where a renameable token (a name, a string) that repeats
    one earlier in the same k-gram (``previous``: distance back to the same exact token) is coded
    by how far back that one is.

    Renaming is consistent (every ``x`` becomes ``count``), so which names are the same name
    survives it: ``V = V + V`` says less than "a = b + a". That keeps the shape of renamed code
    but tells apart most of the files that share a bare ``V``/``S`` shape (same idiom, other
    variables), and gives tables of strings a shape where values repeat.
    """
    n = len(codes)
    if n < k:
        return np.zeros(0, dtype=np.uint64)
    base = _mix(codes)
    # token i, repeating the one d < k tokens back, is coded by d in the k-grams that hold both:
    # those starting at s in [i-k+1, i-d]. Its change of code is added over that range.
    close = np.flatnonzero(renameable & (previous < k))
    distance = previous[close]
    powers = powers or _powers(n)
    inverse = powers[1]
    with np.errstate(over="ignore"):
        reference = _mix(distance.astype(np.uint64) + np.uint64(0x5EF0_0000_0000_0000) + (codes[close] == CODE_STRING))
        change = (reference - base[close]) * inverse[close]
        steps = np.zeros(n + 1, dtype=np.uint64)
        np.add.at(steps, np.maximum(close - k + 1, 0), change)
        np.subtract.at(steps, close - distance + 1, change)
        corrections = np.cumsum(steps, dtype=np.uint64)[: n - k + 1]
    return _rolling(base, k, seed, powers, corrections)


def winnow(hashes: np.ndarray, w: int = W) -> np.ndarray:
    """Positions of the winnowed fingerprints: the rightmost minimum of every window of ``w``."""
    if len(hashes) == 0:
        return np.zeros(0, dtype=np.int64)
    if len(hashes) <= w:
        return np.array([len(hashes) - 1 - int(np.argmin(hashes[::-1]))], dtype=np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(hashes, w)
    rightmost = w - 1 - np.argmin(windows[:, ::-1], axis=1)
    # consecutive windows pick non-decreasing positions (a window's rightmost minimum stays picked
    # until it leaves or a smaller-or-equal hash enters), so dropping repeats leaves them unique
    positions = np.arange(len(windows)) + rightmost
    return positions[np.concatenate(([True], positions[1:] != positions[:-1]))]


@dataclass(frozen=True, slots=True)
class Fingerprints:
    """Both fingerprint families of a text, concatenated (normalised first)."""

    hashes: np.ndarray  # uint64
    first_token: np.ndarray  # int64, index of each fingerprint's first token
    tokens: Tokens


# Repeats closer than this many tokens are a table or a run of near-identical statements.
MAX_PERIOD = 24
_NEVER = np.uint64(np.iinfo(np.uint64).max)


def repeated(hashes: np.ndarray, max_period: int = MAX_PERIOD) -> np.ndarray:
    """Per k-gram: is the same k-gram found again at most ``max_period`` tokens before or after?

    ``V.V: S, V.V: S, ...`` (a table of names and strings), ``V = (S, S),`` row after row, or
    ``if S in V: V = V.V(S, S)`` statement after statement have the same normalised shape in any
    file that holds such a table; as fingerprints they only make unrelated tables match.
    """
    result = np.zeros(len(hashes), dtype=bool)
    for period in range(1, min(max_period, len(hashes) - 1) + 1):
        same = hashes[period:] == hashes[:-period]
        result[period:] |= same
        result[:-period] |= same
    return result


def fingerprint(text: str, k: int = K, w: int = W) -> Fingerprints:
    tokens = tokenize(text)
    codes, exact = tokens.codes, tokens.exact
    names = codes == CODE_NAME
    previous, powers = _previous_same(exact), _powers(len(codes))
    normal = shape_hashes(codes, previous, names | (codes == CODE_STRING), k, SEED_NORMAL, powers)
    values = tokens.values != 0
    literal_codes = np.where(values, tokens.values, codes)
    literal = shape_hashes(literal_codes, previous, ~values & (names | (codes == CODE_STRING)), k, SEED_LITERAL, powers)
    literal_count = np.concatenate(([0], np.cumsum(values)))
    literal[literal_count[k:] - literal_count[:-k] < MIN_LITERALS] = _NEVER
    hashes, firsts = [], []
    for family, window, tag in (
        (normal, w, _NORMAL),
        (kgram_hashes(exact, k, SEED_EXACT, powers), W_EXACT, _EXACT),
        (literal, W_LITERAL, _LITERAL),
    ):
        family[repeated(family)] = _NEVER  # never a window's minimum unless all are
        at = winnow(family, window)
        at = at[family[at] != _NEVER]
        hashes.append(family[at] & ~_FAMILY_BITS | tag)
        firsts.append(at)
    return Fingerprints(np.concatenate(hashes), np.concatenate(firsts), tokens)


def is_exact(hashes: np.ndarray) -> np.ndarray:
    """Which fingerprints are of the exact-token family."""
    return (hashes & _FAMILY_BITS) == _EXACT


def is_normalised(hashes: np.ndarray) -> np.ndarray:
    return (hashes & _FAMILY_BITS) == _NORMAL
