"""What replaces a redacted value in the prompt.

A placeholder names the kind of data and the rule that found it (so the model can still reason:
"an AWS secret key goes here") and carries a keyed hash of the value, so the same value always
becomes the same placeholder and a conversation's history is byte-identical from one turn to
the next: ``[[secret:aws-secret-access-key:3f2a9c0b1d]]``.

The tag is an HMAC under a key derived from the deployment key for this one purpose, not the
audit fingerprint: whoever reads the audit log must not be able to build a placeholder and ask
the model to echo it, which would make the proxy restore the value for them.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from llm_dlp.keys import ValueHasher

KIND_CHARS, MAX_KIND = "a-z_", 24
RULE_CHARS, MAX_RULE = "A-Za-z0-9_.-", 48
TAG_LENGTH = 10
PLACEHOLDER = re.compile(
    rf"\[\[(?P<kind>[{KIND_CHARS}]{{1,{MAX_KIND}}}):(?P<rule>[{RULE_CHARS}]{{1,{MAX_RULE}}}):"
    rf"(?P<tag>[0-9a-f]{{{TAG_LENGTH}}})\]\]"
)
PLACEHOLDER_BYTES = re.compile(PLACEHOLDER.pattern.encode("ascii"))
MAX_PLACEHOLDER_LENGTH = len("[[::]]") + MAX_KIND + MAX_RULE + TAG_LENGTH

# Every proper prefix of a placeholder, anchored at the end of the text. Its limits must equal
# PLACEHOLDER's: a stream restorer holds back exactly what this matches, and a placeholder it
# failed to hold back would reach the client split in two and never be restored.
_PROPER_PREFIX = re.compile(
    rf"\[(?:\[(?:[{KIND_CHARS}]{{0,{MAX_KIND}}}"
    rf"|[{KIND_CHARS}]{{1,{MAX_KIND}}}:(?:[{RULE_CHARS}]{{0,{MAX_RULE}}}"
    rf"|[{RULE_CHARS}]{{1,{MAX_RULE}}}:(?:[0-9a-f]{{0,{TAG_LENGTH}}}|[0-9a-f]{{{TAG_LENGTH}}}\])))?)?\Z"
)
_PURPOSE = b"llm-dlp placeholder tag v1"


def placeholder(kind: str, rule: str, value: str, hasher: ValueHasher) -> str:
    safe_kind = re.sub(rf"[^{KIND_CHARS}]", "_", kind.lower())[:MAX_KIND] or "value"
    safe_rule = re.sub(rf"[^{RULE_CHARS}]", "-", rule)[:MAX_RULE] or "value"
    tag_key = hmac.new(hasher.key, _PURPOSE, hashlib.sha256).digest()
    tag = ValueHasher(tag_key).digest(value)[:TAG_LENGTH]
    return f"[[{safe_kind}:{safe_rule}:{tag}]]"


def pending_start(text: str) -> int:
    """Where the tail of ``text`` that could still grow into a placeholder begins.

    ``len(text)`` when no tail could: everything before the returned index can be sent on.
    """
    floor = max(0, len(text) - MAX_PLACEHOLDER_LENGTH)
    position = text.find("[", floor)
    while position != -1:
        if _PROPER_PREFIX.match(text, position):
            return position
        position = text.find("[", position + 1)
    return len(text)
