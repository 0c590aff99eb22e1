"""Read policy YAML files into ``Policy`` values, naming file, line and key on any mistake.

Validation walks the YAML node tree (``yaml.compose``) rather than the loaded dict, because
only nodes remember the line they came from.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from llm_dlp.policy.model import DEFAULT_RESTORE, KINDS, RESTORE_PLACES, Action, Members, Policy, Rule

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


_RULE_FIELDS = {
    "kind": _Field(lambda r, n, k: r.choice(KINDS + ("*",)).convert(r, n, k)),
    "rule": _Field(_Reader.strings),
    "min_confidence": _Field(_confidence),
    "action": _Field(_action),
    "description": _Field(_Reader.string),
}


def _rules(reader: _Reader, node: yaml.Node, key: str) -> tuple[Rule, ...]:
    if not isinstance(node, yaml.SequenceNode):
        raise reader.fail(node, key, "must be a list of rules")
    rules = []
    for index, item in enumerate(node.value):
        path = f"{key}[{index}]"
        fields = reader.mapping(item, path, _RULE_FIELDS)
        if "action" not in fields:
            raise reader.fail(item, f"{path}.action", "is required (block, redact, log or allow)")
        rules.append(
            Rule(
                action=fields["action"],
                kind=fields.get("kind", "*"),
                rules=fields.get("rule", ()),
                min_confidence=fields.get("min_confidence", 0.0),
                source=f"{reader.file.name}:{item.start_mark.line + 1}",
            )
        )
    return tuple(rules)


def _template(reader: _Reader, node: yaml.Node, key: str) -> str:
    text = reader.string(node, key)
    try:
        text.format(policy="p", findings="f")
    except (KeyError, IndexError, ValueError) as exc:
        raise reader.fail(node, key, f"template may use only {{policy}} and {{findings}} ({exc!r})")
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


_MEMBER_FIELDS = {"users": _Field(_Reader.strings), "networks": _Field(_networks)}

_POLICY_FIELDS = {
    "name": _Field(_Reader.string),
    "description": _Field(_Reader.string),
    "mode": _Field(lambda r, n, k: r.choice(("enforce", "monitor")).convert(r, n, k)),
    "on_error": _Field(lambda r, n, k: r.choice(("block", "allow")).convert(r, n, k)),
    "default_action": _Field(_action),
    "max_body_bytes": _Field(_Reader.count),
    "scan_timeout_seconds": _Field(_Reader.number),
    "block_message": _Field(_template),
    "members": _Field(lambda r, n, k: r.mapping(n, k, _MEMBER_FIELDS)),
    "rules": _Field(_rules),
    "restore": _Field(_restore),
}


def load_policy(file: Path) -> Policy:
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
    fields = reader.mapping(node, "", _POLICY_FIELDS)
    members = fields.get("members", {})
    name = fields.get("name", file.stem)
    if name != file.stem:
        raise reader.fail(node, "name", f"{name!r} must match the file name {file.stem!r}")
    return Policy(
        name=name,
        source=str(file),
        rules=fields.get("rules", ()),
        members=Members(users=members.get("users", ()), networks=members.get("networks", ())),
        **{key: fields[key] for key in _SIMPLE_SETTINGS if key in fields},
    )


_SIMPLE_SETTINGS = (
    "mode", "on_error", "default_action", "max_body_bytes", "scan_timeout_seconds", "block_message", "restore",
)


@dataclass(frozen=True, slots=True)
class PolicySet:
    """All tenants' policies from one directory; ``default`` is required."""

    directory: Path
    policies: dict[str, Policy]

    @property
    def default(self) -> Policy:
        return self.policies[DEFAULT_TENANT]

    def for_client(self, user: str | None, address: str | None) -> Policy:
        """The tenant by proxy-auth user name, else by client network, else ``default``."""
        for policy in self.policies.values():
            if policy.members.has_user(user):
                return policy
        for policy in self.policies.values():
            if policy.members.has_address(address):
                return policy
        return self.default

    def get(self, tenant: str) -> Policy:
        if tenant not in self.policies:
            raise KeyError(f"no policy for tenant {tenant!r} in {self.directory} (have: {', '.join(sorted(self.policies))})")
        return self.policies[tenant]


def load_policy_dir(directory: Path) -> PolicySet:
    directory = Path(directory)
    if not directory.is_dir():
        raise PolicyError(directory, 1, "(directory)", "is not a directory of policy files")
    policies: dict[str, Policy] = {}
    for file in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        policy = load_policy(file)
        if policy.name in policies:
            raise PolicyError(file, 1, "name", f"tenant {policy.name!r} is defined twice")
        policies[policy.name] = policy
    if DEFAULT_TENANT not in policies:
        raise PolicyError(directory / "default.yaml", 1, "(file)", "is missing: every policy directory needs a default tenant")
    _check_members_unique(policies)
    return PolicySet(directory, policies)


def _check_members_unique(policies: dict[str, Policy]) -> None:
    owner: dict[str, str] = {}
    for policy in policies.values():
        for user in policy.members.users:
            if user in owner:
                raise PolicyError(policy.source, 1, "members.users", f"user {user!r} is already in tenant {owner[user]!r}")
            owner[user] = policy.name
