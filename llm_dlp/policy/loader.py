"""Read policy YAML files into ``Policy`` values, naming file, line and key on any mistake.

Validation walks the YAML node tree (``yaml.compose``) rather than the loaded dict, because
only nodes remember the line they came from.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from llm_dlp.policy.model import (
    DEFAULT_RESTORE,
    KINDS,
    RESTORE_PLACES,
    TEMPLATE_FIELDS,
    Action,
    Destinations,
    Exceptions,
    Members,
    Policy,
    Rule,
)

DEFAULT_TENANT = "default"


class PolicyError(ValueError):
    """A policy file is wrong. ``str()`` reads ``file:line: key: what is wrong``."""

    def __init__(self, file: Path | str, line: int, key: str, problem: str) -> None:
        self.file, self.line, self.key, self.problem = str(file), line, key, problem
        super().__init__(f"{file}:{line}: {key}: {problem}")


@dataclass(frozen=True, slots=True)
class _Field:
    convert: Callable[["_Reader", yaml.Node, str], Any]


class _Reader:
    """Converts nodes of one file, raising ``PolicyError`` with that file's name."""

    def __init__(self, file: Path) -> None:
        self.file = file

    def fail(self, node: yaml.Node, key: str, problem: str) -> PolicyError:
        return PolicyError(self.file, node.start_mark.line + 1, key, problem)

    def mapping(self, node: yaml.Node, key: str, allowed: dict[str, _Field]) -> dict[str, Any]:
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

    def choice(self, options: tuple[str, ...]) -> _Field:
        def convert(reader: _Reader, node: yaml.Node, key: str) -> str:
            value = reader.string(node, key)
            if value not in options:
                raise reader.fail(node, key, f"{value!r} is not one of {', '.join(options)}")
            return value

        return _Field(convert)

    def strings(self, node: yaml.Node, key: str) -> tuple[str, ...]:
        if isinstance(node, yaml.ScalarNode):
            return (self.string(node, key),)
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, key, "must be a list")
        return tuple(self.string(item, f"{key}[{i}]") for i, item in enumerate(node.value))


_ACTIONS = ("block", "redact", "log", "allow")
# Each finding kind comes from one detector; a rule may name either.
DETECTORS = {"secrets": "secret", "pii": "pii", "code": "code", "proprietary_code": "proprietary_code"}


def _action(reader: _Reader, node: yaml.Node, key: str) -> Action:
    return Action[reader.choice(_ACTIONS).convert(reader, node, key).upper()]


def _confidence(reader: _Reader, node: yaml.Node, key: str) -> float:
    value = reader.number(node, key)
    if not 0.0 <= value <= 1.0:
        raise reader.fail(node, key, "must be between 0 and 1")
    return value


def _networks(reader: _Reader, node: yaml.Node, key: str) -> tuple:
    networks = []
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    for index, item in enumerate(items):
        text = reader.string(item, f"{key}[{index}]")
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise reader.fail(item, f"{key}[{index}]", f"{text!r} is not an IP network (e.g. 10.0.0.0/8)")
    return tuple(networks)


def _regexes(reader: _Reader, node: yaml.Node, key: str) -> tuple[str, ...]:
    patterns = reader.strings(node, key)
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    for item, pattern in zip(items, patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise reader.fail(item, key, f"{pattern!r} is not a valid regular expression: {exc}")
    return patterns


def _hashes(reader: _Reader, node: yaml.Node, key: str) -> frozenset[str]:
    values = reader.strings(node, key)
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    for item, value in zip(items, values):
        if not re.fullmatch(r"hmac-sha256:[0-9a-f]{64}", value):
            raise reader.fail(item, key, f"{value!r} is not a value hash (hmac-sha256:<64 hex>, as in audit lines)")
    return frozenset(values)


def _template(reader: _Reader, node: yaml.Node, key: str) -> str:
    text = reader.string(node, key)
    try:
        text.format(**{name: "x" for name in TEMPLATE_FIELDS})
    except (KeyError, IndexError, ValueError) as exc:
        allowed = ", ".join("{" + name + "}" for name in TEMPLATE_FIELDS)
        raise reader.fail(node, key, f"template may use only {allowed} ({exc!r})")
    return text


def _restore(reader: _Reader, node: yaml.Node, key: str) -> dict[str, frozenset[str]]:
    def places(r: _Reader, n: yaml.Node, k: str) -> frozenset[str]:
        chosen = r.strings(n, k) if not (isinstance(n, yaml.SequenceNode) and not n.value) else ()
        for item in chosen:
            if item not in RESTORE_PLACES:
                raise r.fail(n, k, f"{item!r} is not one of {', '.join(RESTORE_PLACES)}")
        return frozenset(chosen)

    given = reader.mapping(node, key, {kind: _Field(places) for kind in KINDS})
    return {**DEFAULT_RESTORE, **given}


def _reroute(reader: _Reader, node: yaml.Node, key: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(node, yaml.MappingNode):
        raise reader.fail(node, key, "must map a provider or host to an https:// or http:// URL")
    routes = []
    for key_node, value_node in node.value:
        target = reader.string(value_node, f"{key}.{key_node.value}")
        if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d+)?/?", target):
            raise reader.fail(value_node, f"{key}.{key_node.value}", f"{target!r} must be scheme://host[:port]")
        routes.append((str(key_node.value), target.rstrip("/")))
    return tuple(routes)


def _rule_fields(known_rules: dict[str, set[str]]) -> dict[str, _Field]:
    def rule_ids(reader: _Reader, node: yaml.Node, key: str) -> tuple[str, ...]:
        return reader.strings(node, key)  # checked against the kind once the whole rule is read

    return {
        "kind": _Field(lambda r, n, k: r.choice(KINDS + ("*",)).convert(r, n, k)),
        "detector": _Field(lambda r, n, k: r.choice(tuple(DETECTORS)).convert(r, n, k)),
        "rule": _Field(rule_ids),
        "label": _Field(_Reader.strings),
        "min_confidence": _Field(_confidence),
        "min_count": _Field(_Reader.count),
        "min_lines": _Field(_Reader.count),
        "min_records": _Field(_Reader.count),
        "action": _Field(_action),
        "description": _Field(_Reader.string),
    }


def _rules(known_rules: dict[str, set[str]]):
    fields_spec = _rule_fields(known_rules)

    def convert(reader: _Reader, node: yaml.Node, key: str) -> tuple[Rule, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise reader.fail(node, key, "must be a list of rules")
        rules = []
        for index, item in enumerate(node.value):
            path = f"{key}[{index}]"
            fields = reader.mapping(item, path, fields_spec)
            if "action" not in fields:
                raise reader.fail(item, f"{path}.action", "is required (block, redact, log or allow)")
            kind = fields.get("kind", "*")
            if "detector" in fields:
                implied = DETECTORS[fields["detector"]]
                if kind not in ("*", implied):
                    raise reader.fail(item, f"{path}.detector", f"detector {fields['detector']!r} finds {implied!r}, not {kind!r}")
                kind = implied
            known = known_rules.get(kind)
            for rule_id in fields.get("rule", ()):
                if known and rule_id not in known:
                    close = ", ".join(sorted(k for k in known if k.split("-")[0] == rule_id.split("-")[0])[:5])
                    hint = f" (did you mean: {close})" if close else ""
                    raise reader.fail(item, f"{path}.rule", f"{rule_id!r} is not a {kind} rule{hint}")
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


_MEMBER_FIELDS = {"users": _Field(_Reader.strings), "groups": _Field(_Reader.strings), "networks": _Field(_networks)}
_DESTINATION_FIELDS = {"allow": _Field(_Reader.strings), "deny": _Field(_Reader.strings), "reroute": _Field(_reroute)}
_EXCEPTION_FIELDS = {
    "values": _Field(_hashes),
    "rules": _Field(_Reader.strings),
    "patterns": _Field(_regexes),
    "paths": _Field(_Reader.strings),
}


def _policy_fields(known_rules: dict[str, set[str]]) -> dict[str, _Field]:
    return {
        "name": _Field(_Reader.string),
        "description": _Field(_Reader.string),
        "extends": _Field(_Reader.string),
        "mode": _Field(lambda r, n, k: r.choice(("enforce", "monitor")).convert(r, n, k)),
        "on_error": _Field(lambda r, n, k: r.choice(("block", "allow")).convert(r, n, k)),
        "default_action": _Field(_action),
        "max_body_bytes": _Field(_Reader.count),
        "scan_timeout_seconds": _Field(_Reader.number),
        "block_message": _Field(_template),
        "contact": _Field(_Reader.string),
        "help_url": _Field(_Reader.string),
        "members": _Field(lambda r, n, k: Members(**_members(r.mapping(n, k, _MEMBER_FIELDS)))),
        "destinations": _Field(lambda r, n, k: Destinations(**r.mapping(n, k, _DESTINATION_FIELDS))),
        "exceptions": _Field(lambda r, n, k: Exceptions(**r.mapping(n, k, _EXCEPTION_FIELDS))),
        "rules": _Field(_rules(known_rules)),
        "restore": _Field(_restore),
    }


def _members(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: tuple(value) for key, value in fields.items()}


# Settings a tenant inherits from the policy it extends unless it sets them itself.
_INHERITED = (
    "mode", "on_error", "default_action", "max_body_bytes", "scan_timeout_seconds", "block_message",
    "contact", "help_url", "destinations", "restore",
)


@dataclass(frozen=True, slots=True)
class _Draft:
    """One file's own settings, before inheritance."""

    file: Path
    fields: dict[str, Any]
    extends_line: int


def _read(file: Path, known_rules: dict[str, set[str]]) -> _Draft:
    reader = _Reader(file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(file, 1, "(file)", f"cannot be read: {exc}")
    try:
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise PolicyError(file, line, "(syntax)", str(getattr(exc, "problem", exc)))
    if node is None:
        raise PolicyError(file, 1, "(file)", "is empty")
    fields = reader.mapping(node, "", _policy_fields(known_rules))
    name = fields.get("name", file.stem)
    if name != file.stem:
        raise reader.fail(node, "name", f"{name!r} must match the file name {file.stem!r}")
    extends_line = next((k.start_mark.line + 1 for k, _ in node.value if k.value == "extends"), 1)
    return _Draft(file, fields, extends_line)


def _resolve(name: str, drafts: dict[str, _Draft], chain: tuple[str, ...] = ()) -> Policy:
    draft = drafts[name]
    fields = draft.fields
    parent_name = fields.get("extends")
    parent: Policy | None = None
    if parent_name is not None:
        if parent_name in chain + (name,):
            cycle = " -> ".join(chain + (name, parent_name))
            raise PolicyError(draft.file, draft.extends_line, "extends", f"cycle in extends: {cycle}")
        if parent_name not in drafts:
            raise PolicyError(draft.file, draft.extends_line, "extends",
                              f"no policy named {parent_name!r} in {draft.file.parent}")
        parent = _resolve(parent_name, drafts, chain + (name,))
    settings = {key: getattr(parent, key) for key in _INHERITED} if parent else {}
    settings.update({key: fields[key] for key in _INHERITED if key in fields})
    exceptions = fields.get("exceptions", Exceptions())
    return Policy(
        name=name,
        source=str(draft.file),
        # A tenant's own rules are more specific than the ones it inherits, so they come first.
        rules=tuple(fields.get("rules", ())) + (parent.rules if parent else ()),
        members=fields.get("members", Members()),
        exceptions=exceptions.merged(parent.exceptions) if parent else exceptions,
        **settings,
    )


def load_policy(file: Path, known_rules: dict[str, set[str]] | None = None) -> Policy:
    """One policy file; ``extends`` is resolved against the files beside it."""
    file = Path(file)
    drafts = {file.stem: _read(file, known_rules or {})}
    pending = drafts[file.stem].fields.get("extends")
    while pending and pending not in drafts:
        sibling = file.parent / f"{pending}.yaml"
        if not sibling.exists():
            break  # _resolve reports it with the right line
        drafts[pending] = _read(sibling, known_rules or {})
        pending = drafts[pending].fields.get("extends")
    return _resolve(file.stem, drafts)


@dataclass(frozen=True, slots=True)
class PolicySet:
    """All tenants' policies from one directory; ``default`` is required."""

    directory: Path
    policies: dict[str, Policy]

    @property
    def default(self) -> Policy:
        return self.policies[DEFAULT_TENANT]

    def for_client(self, user: str | None, address: str | None, groups: tuple[str, ...] = ()) -> Policy:
        """The tenant by proxy-auth user name, else by group, else by client network, else ``default``."""
        for test in (
            lambda p: p.members.has_user(user),
            lambda p: p.members.has_group(groups),
            lambda p: p.members.has_address(address),
        ):
            for policy in self.policies.values():
                if test(policy):
                    return policy
        return self.default

    def get(self, tenant: str) -> Policy:
        if tenant not in self.policies:
            raise KeyError(f"no policy for tenant {tenant!r} in {self.directory} (have: {', '.join(sorted(self.policies))})")
        return self.policies[tenant]


def load_policy_dir(directory: Path, known_rules: dict[str, set[str]] | None = None) -> PolicySet:
    directory = Path(directory)
    if not directory.is_dir():
        raise PolicyError(directory, 1, "(directory)", "is not a directory of policy files")
    drafts: dict[str, _Draft] = {}
    for file in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        if file.stem in drafts:
            raise PolicyError(file, 1, "name", f"tenant {file.stem!r} is defined twice")
        drafts[file.stem] = _read(file, known_rules or {})
    if DEFAULT_TENANT not in drafts:
        raise PolicyError(directory / "default.yaml", 1, "(file)", "is missing: every policy directory needs a default tenant")
    policies = {name: _resolve(name, drafts) for name in drafts}
    _check_members_unique(policies)
    return PolicySet(directory, policies)


def _check_members_unique(policies: dict[str, Policy]) -> None:
    owner: dict[str, str] = {}
    for policy in policies.values():
        for user in policy.members.users:
            if user in owner:
                raise PolicyError(policy.source, 1, "members.users", f"user {user!r} is already in tenant {owner[user]!r}")
            owner[user] = policy.name
