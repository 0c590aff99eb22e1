"""What replaces a redacted value in the prompt.

A placeholder names the kind of data (so the model can still reason: "an AWS secret key goes
here") and carries a keyed hash of the value, so the same value always becomes the same
placeholder and a conversation's history is byte-identical from one turn to the next.
"""

from __future__ import annotations

import re

from llm_dlp.keys import ValueHasher

PLACEHOLDER = re.compile(r"\[\[(?P<kind>[a-z_]+):(?P<rule>[A-Za-z0-9_.-]+):(?P<tag>[0-9a-f]{10})\]\]")


def placeholder(kind: str, rule: str, value: str, hasher: ValueHasher) -> str:
    safe_rule = re.sub(r"[^A-Za-z0-9_.-]", "-", rule) or "value"
    return f"[[{kind}:{safe_rule}:{hasher.digest(value)[:10]}]]"
