"""The policy file schema: each key, what it must hold, and the error when it does not.

Validation walks the YAML node tree (``yaml.compose``) rather than the loaded dict, because
only nodes remember the line they came from; every error names file, line and key.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from llm_dlp.detection import DetectorRegistry
from llm_dlp.policy.model import (
    DEFAULT_RESTORE,
    RESTORE_PLACES,
    TEMPLATE_FIELDS,
    Action,
    Exceptions,
    Members,
    Rule,
)


class PolicyError(ValueError):
    """A policy file is wrong. ``str()`` reads ``file:line: key: what is wrong``."""

    def __init__(self, file: Path | str, line: int, key: str, problem: str) -> None:
        self.file, self.line, self.key, self.problem = str(file), line, key, problem
        super().__init__(f"{file}:{line}: {key}: {problem}")


@dataclass(frozen=True, slots=True)
class Field:
    convert: Callable[["NodeReader", yaml.Node, str], Any]


class NodeReader:
    """Converts nodes of one file, raising ``PolicyError`` with that file's name."""

    def __init__(self, file: Path) -> None:
        self.file = file

    def fail(self, node: yaml.Node, key: str, problem: str) -> PolicyError:
        return PolicyError(self.file, node.start_mark.line + 1, key, problem)

    def mapping(self, node: yaml.Node, key: str, allowed: dict[str, Field]) -> dict[str, Any]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, key, "must be a mapping of keys to values")
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            name = key_node.value
            path = f"{key}.{name}" if key else name
            if name not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.fail(key_node, path, f"unknown key (known keys: {known})")
            if name in out:
                raise self.fail(key_node, path, "appears twice")
            out[name] = allowed[name].convert(self, value_node, path)
        return out

    def scalar(self, node: yaml.Node, key: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, key, "must be a single value")
        return yaml.safe_load(yaml.serialize(node))

    def string(self, node: yaml.Node, key: str) -> str:
        value = self.scalar(node, key)
        if not isinstance(value, str):
            raise self.fail(node, key, f"must be text, not {type(value).__name__}")
        return value

    def number(self, node: yaml.Node, key: str) -> float:
        value = self.scalar(node, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(node, key, "must be a number")
        return float(value)

    def count(self, node: yaml.Node, key: str) -> int:
        value = self.scalar(node, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(node, key, "must be a whole number >= 0")
        return value

    def choice(self, options: tuple[str, ...]) -> Field:
        def convert(reader: NodeReader, node: yaml.Node, key: str) -> str:
            value = reader.string(node, key)
            if value not in options:
                raise reader.fail(node, key, f"{value!r} is not one of {', '.join(options)}")
            return value

        return Field(convert)

    def strings(self, node: yaml.Node, key: str) -> tuple[str, ...]:
        if isinstance(node, yaml.ScalarNode):
            return (self.string(node, key),)
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, key, "must be a list")
        return tuple(self.string(item, f"{key}[{i}]") for i, item in enumerate(node.value))


_ACTIONS = ("block", "withhold", "redact", "log", "allow")
# Rule keys that match on a finding's details, and the detail each reads (``Rule.matches``).
_DETAIL_KEYS = {"label": "label", "min_lines": "lines", "min_records": "records"}


def _action(reader: NodeReader, node: yaml.Node, key: str) -> Action:
    return Action[reader.choice(_ACTIONS).convert(reader, node, key).upper()]


def _confidence(reader: NodeReader, node: yaml.Node, key: str) -> float:
    value = reader.number(node, key)
    if not 0.0 <= value <= 1.0:
        raise reader.fail(node, key, "must be between 0 and 1")
    return value


def _networks(reader: NodeReader, node: yaml.Node, key: str) -> tuple:
    networks = []
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    for index, item in enumerate(items):
        text = reader.string(item, f"{key}[{index}]")
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise reader.fail(item, f"{key}[{index}]", f"{text!r} is not an IP network (e.g. 10.0.0.0/8)")
    return tuple(networks)


def _regexes(reader: NodeReader, node: yaml.Node, key: str) -> tuple[str, ...]:
    patterns = reader.strings(node, key)
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    for item, pattern in zip(items, patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise reader.fail(item, key, f"{pattern!r} is not a valid regular expression: {exc}")
    return patterns


def _hashes(reader: NodeReader, node: yaml.Node, key: str) -> frozenset[str]:
    values = reader.strings(node, key)
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    for item, value in zip(items, values):
        if not re.fullmatch(r"hmac-sha256:[0-9a-f]{64}", value):
            raise reader.fail(item, key, f"{value!r} is not a value hash (hmac-sha256:<64 hex>, as in audit lines)")
    return frozenset(values)


def _template(reader: NodeReader, node: yaml.Node, key: str) -> str:
    text = reader.string(node, key)
    try:
        text.format(**{name: "x" for name in TEMPLATE_FIELDS})
    except (KeyError, IndexError, ValueError) as exc:
        allowed = ", ".join("{" + name + "}" for name in TEMPLATE_FIELDS)
        raise reader.fail(node, key, f"template may use only {allowed} ({exc!r})")
    return text


def _restore(registry: DetectorRegistry) -> Callable[[NodeReader, yaml.Node, str], dict[str, frozenset[str]]]:
    """``restore:`` maps each kind a detector declares to the places its values may be restored."""
    kinds = tuple(registry.kinds)

    def convert(reader: NodeReader, node: yaml.Node, key: str) -> dict[str, frozenset[str]]:
        given = reader.mapping(node, key, {kind: Field(_places) for kind in kinds})
        return {**DEFAULT_RESTORE, **given}

    return convert


def _places(reader: NodeReader, node: yaml.Node, key: str) -> frozenset[str]:
    chosen = reader.strings(node, key) if not (isinstance(node, yaml.SequenceNode) and not node.value) else ()
    for item in chosen:
        if item not in RESTORE_PLACES:
            raise reader.fail(node, key, f"{item!r} is not one of {', '.join(RESTORE_PLACES)}")
    return frozenset(chosen)


def _rule_fields(registry: DetectorRegistry) -> dict[str, Field]:
    kinds = tuple(registry.kinds)
    detectors = tuple(registry.detector_kinds)
    return {
        "kind": Field(lambda r, n, k: r.choice(kinds + ("*",)).convert(r, n, k)),
        "detector": Field(lambda r, n, k: r.choice(detectors).convert(r, n, k)),
        # checked against the kind once the whole rule is read
        "rule": Field(NodeReader.strings),
        "label": Field(NodeReader.strings),
        "min_confidence": Field(_confidence),
        "min_count": Field(NodeReader.count),
        "min_lines": Field(NodeReader.count),
        "min_records": Field(NodeReader.count),
        "action": Field(_action),
        "description": Field(NodeReader.string),
    }


def _rules(registry: DetectorRegistry):
    fields_spec = _rule_fields(registry)

    def convert(reader: NodeReader, node: yaml.Node, key: str) -> tuple[Rule, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise reader.fail(node, key, "must be a list of rules")
        rules = []
        for index, item in enumerate(node.value):
            path = f"{key}[{index}]"
            fields = reader.mapping(item, path, fields_spec)
            if "action" not in fields:
                raise reader.fail(item, f"{path}.action", "is required (block, withhold, redact, log or allow)")
            kind = _kind(reader, item, path, fields, registry)
            _check_rule_ids(reader, item, path, kind, fields.get("rule", ()), registry)
            _check_details(reader, item, path, kind, fields, registry)
            rules.append(
                Rule(
                    action=fields["action"],
                    kind=kind,
                    rules=fields.get("rule", ()),
                    labels=fields.get("label", ()),
                    min_confidence=fields.get("min_confidence", 0.0),
                    min_count=max(1, fields.get("min_count", 1)),
                    min_lines=fields.get("min_lines", 0),
                    min_records=fields.get("min_records", 0),
                    source=f"{reader.file.name}:{item.start_mark.line + 1}",
                )
            )
        return tuple(rules)

    return convert


def _kind(reader: NodeReader, item: yaml.Node, path: str, fields: dict[str, Any], registry: DetectorRegistry) -> str:
    """The rule's kind: as given, or the one kind of the detector it names."""
    kind = fields.get("kind", "*")
    if "detector" not in fields:
        return kind
    detector = fields["detector"]
    reports = registry.detector_kinds[detector]
    if kind != "*":
        if kind not in reports:
            raise reader.fail(item, f"{path}.detector", f"detector {detector!r} finds {', '.join(reports)}, not {kind!r}")
        return kind
    if len(reports) != 1:
        raise reader.fail(item, f"{path}.kind", f"detector {detector!r} finds {', '.join(reports)}: say which with kind")
    return reports[0]


def _check_rule_ids(
    reader: NodeReader, item: yaml.Node, path: str, kind: str, rule_ids: tuple[str, ...], registry: DetectorRegistry
) -> None:
    known = registry.rule_ids(kind) if kind != "*" else None
    for rule_id in rule_ids:
        if known is not None and rule_id not in known:
            close = ", ".join(sorted(k for k in known if k.split("-")[0] == rule_id.split("-")[0])[:5])
            if close:
                hint = f" (did you mean: {close})"
            else:
                hint = f" (known: {', '.join(sorted(known))})" if len(known) <= 12 else ""
            raise reader.fail(item, f"{path}.rule", f"{rule_id!r} is not a {kind} rule{hint}")


def _check_details(
    reader: NodeReader, item: yaml.Node, path: str, kind: str, fields: dict[str, Any], registry: DetectorRegistry
) -> None:
    """A rule matching on a detail its kind never carries could never match: an error, not a no-op."""
    kinds = registry.kinds
    for field_name, detail in _DETAIL_KEYS.items():
        if field_name not in fields:
            continue
        carriers = sorted(name for name, declared in kinds.items() if detail in declared.details)
        if (kind == "*" and not carriers) or (kind != "*" and kind not in carriers):
            which = f"{kind} findings have" if kind != "*" else "no findings have"
            only = f" (only {', '.join(carriers)} findings do)" if carriers else ""
            raise reader.fail(item, f"{path}.{field_name}", f"{which} no {detail!r}, so this rule would never match{only}")


_MEMBER_FIELDS = {"users": Field(NodeReader.strings), "groups": Field(NodeReader.strings), "networks": Field(_networks)}
_EXCEPTION_FIELDS = {
    "values": Field(_hashes),
    "rules": Field(NodeReader.strings),
    "patterns": Field(_regexes),
    "paths": Field(NodeReader.strings),
}


def policy_fields(registry: DetectorRegistry) -> dict[str, Field]:
    # destinations.py builds on this module's readers, so it is imported here, not at the top.
    from llm_dlp.policy.destinations import destinations

    return {
        "name": Field(NodeReader.string),
        "description": Field(NodeReader.string),
        "extends": Field(NodeReader.string),
        "mode": Field(lambda r, n, k: r.choice(("enforce", "monitor")).convert(r, n, k)),
        "on_error": Field(lambda r, n, k: r.choice(("block", "allow")).convert(r, n, k)),
        "unknown_destination": Field(lambda r, n, k: r.choice(("block", "tunnel")).convert(r, n, k)),
        "default_action": Field(_action),
        "max_body_bytes": Field(NodeReader.count),
        "scan_timeout_seconds": Field(NodeReader.number),
        "block_message": Field(_template),
        "contact": Field(NodeReader.string),
        "help_url": Field(NodeReader.string),
        "members": Field(lambda r, n, k: Members(**_members(r.mapping(n, k, _MEMBER_FIELDS)))),
        "destinations": Field(destinations(registry)),
        "exceptions": Field(lambda r, n, k: Exceptions(**r.mapping(n, k, _EXCEPTION_FIELDS))),
        "rules": Field(_rules(registry)),
        "restore": Field(_restore(registry)),
        "media": Field(lambda r, n, k: r.choice(("allow", "block")).convert(r, n, k)),
        "token_ids": Field(lambda r, n, k: r.choice(("refuse", "allow")).convert(r, n, k)),
    }


def _members(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: tuple(value) for key, value in fields.items()}
