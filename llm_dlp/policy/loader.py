"""Read a directory of policy files into ``Policy`` values: one file per tenant, ``extends``
resolved, mistakes reported as ``file:line: key: problem`` (see ``schema.py``).

Files are validated against a ``DetectorRegistry`` (the kinds, rule ids and details the detectors
declare; by default the bundled detectors' declarations). The proxy's registry also checks, for
every directory loaded, that the detectors its rules need can work (``DetectorRegistry.admit``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from llm_dlp.detection import DetectorRegistry
from llm_dlp.policy.model import Exceptions, Members, Policy
from llm_dlp.policy.schema import PolicyError, policy_fields, NodeReader

__all__ = ["DEFAULT_TENANT", "PolicyError", "PolicySet", "load_policy", "load_policy_dir"]

DEFAULT_TENANT = "default"


# Settings a tenant inherits from the policy it extends unless it sets them itself.
_INHERITED = (
    "mode", "on_error", "unknown_destination", "default_action", "max_body_bytes", "scan_timeout_seconds", "block_message",
    "contact", "help_url", "destinations", "restore", "media", "token_ids",
)


@dataclass(frozen=True, slots=True)
class _Draft:
    """One file's own settings, before inheritance."""

    file: Path
    fields: dict[str, Any]
    extends_line: int


def _read(file: Path, registry: DetectorRegistry) -> _Draft:
    reader = NodeReader(file)
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
    fields = reader.mapping(node, "", policy_fields(registry))
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


def load_policy(file: Path, registry: DetectorRegistry | None = None) -> Policy:
    """One policy file; ``extends`` is resolved against the files beside it."""
    file = Path(file)
    registry = registry or DetectorRegistry.standard()
    drafts = {file.stem: _read(file, registry)}
    pending = drafts[file.stem].fields.get("extends")
    while pending and pending not in drafts:
        sibling = file.parent / f"{pending}.yaml"
        if not sibling.exists():
            break  # _resolve reports it with the right line
        drafts[pending] = _read(sibling, registry)
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

    def rules_by_kind(self) -> dict[str, tuple[str, ...]]:
        """Finding kind -> the rules (``directory/file:line``) that name it: the kinds these
        policies need detected. Rules for any kind (``*``) need none in particular."""
        named: dict[str, set[str]] = {}
        for policy in self.policies.values():
            for rule in policy.rules:
                if rule.kind != "*":
                    named.setdefault(rule.kind, set()).add(str(Path(policy.source).parent / rule.source))
        return {kind: tuple(sorted(sources)) for kind, sources in named.items()}

    def get(self, tenant: str) -> Policy:
        if tenant not in self.policies:
            raise KeyError(f"no policy for tenant {tenant!r} in {self.directory} (have: {', '.join(sorted(self.policies))})")
        return self.policies[tenant]


def load_policy_dir(directory: Path, registry: DetectorRegistry | None = None) -> PolicySet:
    """Every tenant in ``directory``; with the proxy's registry, also the detectors they need
    are checked (``DetectorCheckError`` when one cannot work)."""
    directory = Path(directory)
    registry = registry or DetectorRegistry.standard()
    if not directory.is_dir():
        raise PolicyError(directory, 1, "(directory)", "is not a directory of policy files")
    drafts: dict[str, _Draft] = {}
    for file in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        if file.stem in drafts:
            raise PolicyError(file, 1, "name", f"tenant {file.stem!r} is defined twice")
        drafts[file.stem] = _read(file, registry)
    if DEFAULT_TENANT not in drafts:
        raise PolicyError(directory / "default.yaml", 1, "(file)", "is missing: every policy directory needs a default tenant")
    policies = {name: _resolve(name, drafts) for name in drafts}
    _check_members_unique(policies)
    loaded = PolicySet(directory, policies)
    registry.admit(loaded.rules_by_kind())
    return loaded


def _check_members_unique(policies: dict[str, Policy]) -> None:
    owner: dict[str, str] = {}
    for policy in policies.values():
        for user in policy.members.users:
            if user in owner:
                raise PolicyError(policy.source, 1, "members.users", f"user {user!r} is already in tenant {owner[user]!r}")
            owner[user] = policy.name
