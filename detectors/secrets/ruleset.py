"""Secret rules as data: loading the bundled YAML files into ``Rule`` values.

A rule is a regex whose first non-empty capture group (or the group named ``secret``) is the
secret, plus the facts that decide whether a match is one: a minimum Shannon entropy, an
optional validator name (checksum or structure check, see ``validators``), regexes that mark
known non-secrets, and its own positive and negative samples, which the test-suite runs.

Context-anchored rules ("a key named like X is assigned a value shaped like Y") are written in
the YAML as ``context`` identifiers plus a ``secret`` body and expanded here into one regex, so
that every such rule shares the same notion of what an assignment looks like in code, config,
JSON, YAML, shell and Makefiles.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

# libyaml's safe loader reads the bundled rules ten times faster than the pure-Python one.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# What may sit between an identifier and its value: the rest of the name, closing quotes, then
# one assignment operator (=, :, :=, =>, ||, ?=, ->, a comma in a tuple) and opening quotes.
_NAME_TAIL = r"(?:[ \t\w.-]{0,20})[\s'\"]{0,3}"
_ASSIGN = r"(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)"
_VALUE_OPEN = r"[\x60'\"\s=]{0,5}"
# A value ends at a quote, whitespace, a semicolon, an escaped newline, or the end of the text.
VALUE_END = r"(?:[\x60'\"\s;]|\\[nr]|$)"


def assignment_regex(identifiers: Iterable[str], secret: str, case_sensitive: bool = False) -> str:
    """Build the regex for ``<identifier...> <assign> <secret>``."""
    names = "|".join(identifiers)
    name = f"(?:{names})" if case_sensitive else f"(?i:{names})"
    return f"{name}{_NAME_TAIL}{_ASSIGN}{_VALUE_OPEN}({secret}){VALUE_END}"


@dataclass(frozen=True, slots=True)
class Samples:
    """Texts the rule must find a secret in, and texts it must stay silent on."""

    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    description: str
    regex: str
    keywords: tuple[str, ...] = ()
    # Hyperscan patterns used as the prefilter when ``regex`` is too costly or too long-range
    # for it (multi-line PEM blocks), or split so that each reaches back less far; together they
    # must match wherever ``regex`` does. Empty means the rule's own regex is the prefilter.
    prefilters: tuple[str, ...] = ()
    # How many bytes after a prefilter hit the confirming regex may still need to see.
    lookahead: int = 0
    entropy: float = 0.0
    confidence: float = 0.8
    validator: str | None = None
    # Drop the match when the validator says INVALID (the structure *is* the rule: a "Basic"
    # header that is not base64 of user:password is not a credential).
    drop_invalid: bool = False
    # Context-anchored rules whose value has no fixed prefix: value-shape filters (UUIDs,
    # hashes, identifiers, references) apply to them.
    generic: bool = False
    allow: tuple[str, ...] = ()
    # Regexes on what precedes the secret in the match (the identifier): names that look
    # like credentials but are not (``public_key``, ``csrf_token``, ``key_length``).
    ignore_names: tuple[str, ...] = ()
    # Capture group holding the secret; 0 means the group named ``secret``, else the first
    # non-empty one.
    secret_group: int = 0
    # Extra encodings the rule wants decoded and rescanned (base64 and URL-encoding always are).
    samples: Samples = field(default_factory=Samples)


def _rule_from_mapping(raw: dict[str, Any]) -> Rule:
    if "regex" in raw:
        pattern = raw["regex"]
    else:
        pattern = assignment_regex(raw["context"], raw["secret"], raw.get("case_sensitive", False))
    samples = raw.get("samples") or {}
    return Rule(
        id=raw["id"],
        description=raw.get("description", ""),
        regex=pattern,
        keywords=tuple(k.lower() for k in raw.get("keywords", ())),
        prefilters=_as_tuple(raw.get("prefilter", ())),
        lookahead=int(raw.get("lookahead", 0)),
        entropy=float(raw.get("entropy", 0.0)),
        confidence=float(raw.get("confidence", 0.8)),
        validator=raw.get("validator"),
        drop_invalid=bool(raw.get("drop_invalid", False)),
        generic=bool(raw.get("generic", False)),
        allow=tuple(raw.get("allow", ())),
        ignore_names=tuple(raw.get("ignore_names", ())),
        secret_group=int(raw.get("secret_group", 0)),
        samples=Samples(
            positive=tuple(samples.get("positive", ())),
            negative=tuple(samples.get("negative", ())),
        ),
    )


def _as_tuple(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def load_rules(files: Iterable[str] | None = None) -> list[Rule]:
    """Load every bundled ``rules/*.yaml`` file (or only the named ones), in file order."""
    folder = resources.files("detectors.secrets") / "rules"
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".yaml"))
    if files is not None:
        names = [n for n in names if n in set(files)]
    rules: list[Rule] = []
    seen: set[str] = set()
    for name in names:
        for raw in yaml.load((folder / name).read_text(encoding="utf-8"), Loader=_SAFE_LOADER) or ():
            rule = _rule_from_mapping(raw)
            if rule.id in seen:
                raise ValueError(f"{name}: duplicate secret rule id {rule.id!r}")
            seen.add(rule.id)
            rules.append(rule)
    return rules
