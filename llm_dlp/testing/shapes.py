"""Adversarial text shapes of any size, for the linear-time test and the shapes benchmark.

Each shape is what an agent's tool result can hold and what once made a detector slower than
linear: runs without whitespace, digit runs, one-line JSON full of 7–11 digit numbers, minified
code, base64, and one token or one line of code repeated; and what normalisation and decoding
work hardest on: invisible characters between letters, lookalike letters, hex dumps of text. Deterministic (seeded), so two sizes of a shape are the
same text at two lengths.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable


def _no_whitespace(size: int, rng: random.Random) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:/"
    return "".join(rng.choice(alphabet) for _ in range(size))


def _digit_runs(size: int, rng: random.Random) -> str:
    return "".join(rng.choice("0123456789") for _ in range(size))


def _json_numbers(size: int, rng: random.Random) -> str:
    records = []
    length = 0
    while length < size:
        record = {
            "id": rng.randrange(10**6, 10**11),
            "ts": rng.randrange(10**9, 10**10),
            "n": rng.randrange(10**6, 10**7),
            "ref": str(rng.randrange(10**8, 10**11)),
        }
        records.append(record)
        length += 64
    return json.dumps({"rows": records}, separators=(",", ":"))[:size]


def _minified_code(size: int, rng: random.Random) -> str:
    parts = []
    length = 0
    while length < size:
        n = rng.randrange(1000)
        piece = (
            f"function f{n}(a,b){{var c=a[{n}]||{{}};if(c.x>{n * 7}){{return b(c,'k{n}')}}"
            f"for(var i=0;i<{n};i++){{c.y+=i*{rng.randrange(10**7, 10**9)}}}return c}};"
        )
        parts.append(piece)
        length += len(piece)
    return "".join(parts)[:size]


def _base64(size: int, rng: random.Random) -> str:
    return base64.b64encode(rng.randbytes(size))[:size].decode()


def _keys_between_prose(size: int, rng: random.Random) -> str:
    """Short PEM-wrapped blocks of base64 between sentences with a name: findings inside
    blobs and beside them, many blobs to look each finding up among."""
    parts, length = [], 0
    while length < size:
        body = base64.b64encode(rng.randbytes(rng.randrange(48, 480))).decode()
        lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
        part = f"Key from Anna Schmidt in Leeds:\n-----BEGIN KEY-----\n{lines}\n-----END KEY-----\n"
        parts.append(part)
        length += len(part)
    return "".join(parts)[:size]


def _repeated_lines(size: int, rng: random.Random) -> str:
    line = "    total = compute(items[index], 4155550123) + offset  # see ticket 12345678\n"
    return (line * (size // len(line) + 1))[:size]


def _invisible_between_letters(size: int, rng: random.Random) -> str:
    # Every other character a zero-width or other format character: the most edits
    # normalisation can be asked to map back.
    marks = "\u200b\u200c\u200d\u2060\ufeff\u00ad\ufe0f"
    return "".join(rng.choice("AKIAghp_0123456789") + rng.choice(marks) for _ in range(size // 2 + 1))[:size]


def _lookalikes(size: int, rng: random.Random) -> str:
    # Cyrillic and fullwidth lookalikes of ASCII, with ligatures that fold to two letters.
    alphabet = "\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420\u0421\u0422\uff10\uff11\uff21\ufb01 =:"
    return "".join(rng.choice(alphabet) for _ in range(size))


def _hex_dump(size: int, rng: random.Random) -> str:
    # Hex of printable text: every run decodes and is scanned again.
    line = "api_key = compute(items[index], 4155550123) + offset  # password=\n"
    return ((line.encode().hex(" ") + " ") * (size // (3 * len(line)) + 1))[:size]


def _xxd_dump(size: int, rng: random.Random) -> str:
    # xxd's columns: offset, hex groups, text; every line joins the one before into one run.
    text = b"api_key = compute(items[index], 4155550123) + offset  # password=\n" * (size // 40 + 1)
    lines, length, offset = [], 0, 0
    while length < size:
        chunk = text[offset : offset + 16]
        groups = " ".join(chunk[i : i + 2].hex() for i in range(0, 16, 2))
        shown = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:08x}: {groups}  {shown}\n")
        length += len(lines[-1])
        offset += 16
    return "".join(lines)[:size]


def _repeated_token(size: int, rng: random.Random) -> str:
    return ("password=" * (size // 9 + 1))[:size]


SHAPES: dict[str, Callable[[int, random.Random], str]] = {
    "no whitespace": _no_whitespace,
    "digit run": _digit_runs,
    "one-line JSON, 7-11 digit numbers": _json_numbers,
    "minified code": _minified_code,
    "base64": _base64,
    "keys between prose": _keys_between_prose,
    "repeated token": _repeated_token,
    "repeated code line": _repeated_lines,
    "invisible characters between letters": _invisible_between_letters,
    "lookalike letters": _lookalikes,
    "hex dump of text": _hex_dump,
    "xxd dump of text": _xxd_dump,
}


def shape(name: str, size: int, seed: int = 7) -> str:
    """``size`` characters of the named shape."""
    return SHAPES[name](size, random.Random(seed))
