"""The values a policy file turns into. Loading and validation live in ``loader.py``."""

from __future__ import annotations

import fnmatch
import ipaddress
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Mapping

import regex

# Where a redacted value may be put back into the model's answer: its text, or the arguments of
# tool calls (so an agent's file edits carry the real value).
RESTORE_PLACES = ("text", "tool_arguments")
TOOL_ARGUMENTS = "tool_arguments"
# Per finding kind, where values are restored when a policy does not say (a policy may name any
# kind a detector declares, see llm_dlp.detection); a kind not listed is not restored by default.
# Tool arguments are restored for every kind: a placeholder left in an Edit's old_string fails the
# edit, one left in a Write's content replaces the user's data on disk. The value goes back only
# to a client of the tenant whose request it came from (the vault is keyed by tenant). Answer
# text restores personal data only where a policy says so.
DEFAULT_RESTORE: dict[str, frozenset[str]] = {
    "secret": frozenset(RESTORE_PLACES),
    "pii": frozenset({TOOL_ARGUMENTS}),
    "code": frozenset(RESTORE_PLACES),
    "proprietary_code": frozenset(RESTORE_PLACES),
}


class Action(IntEnum):
    """Ordered by severity: a request's decision is the most severe action any finding got."""

    ALLOW = 0
    LOG = 1
    REDACT = 2
    WITHHOLD = 3  # the content unit holding the finding is replaced by a notice; the request goes on
    BLOCK = 4

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Rule:
    """Findings of ``kind`` (narrowed by rule id, label, confidence, size) get ``action``.

    ``min_count`` is a request-level threshold: the rule applies only when at least that many
    findings in the request match it; otherwise those findings fall through to later rules.
    """

    action: Action
    kind: str = "*"
    rules: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    min_confidence: float = 0.0
    min_count: int = 1
    min_lines: int = 0
    min_records: int = 0
    source: str = ""  # "file:line", so a decision can say which rule made it

    def matches(self, kind: str, rule: str, confidence: float, details: Mapping[str, Any] | None = None) -> bool:
        details = details or {}
        return (
            (self.kind == "*" or self.kind == kind)
            and (not self.rules or rule in self.rules)
            and (not self.labels or details.get("label") in self.labels)
            and confidence >= self.min_confidence
            and _number(details.get("lines")) >= self.min_lines
            and _number(details.get("records")) >= self.min_records
        )


def _number(value: Any) -> float:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


@dataclass(frozen=True, slots=True)
class Members:
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    def has_user(self, user: str | None) -> bool:
        return user is not None and user in self.users

    def has_group(self, groups: tuple[str, ...]) -> bool:
        return any(group in self.groups for group in groups)

    def has_address(self, address: str | None) -> bool:
        if not address or not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)


@dataclass(frozen=True, slots=True)
class Place:
    """Where a request is going: the facts destination rules match on."""

    provider: str
    host: str
    region: str = ""
    jurisdiction: str = ""


@dataclass(frozen=True, slots=True)
class Places:
    """A set of destinations: provider names or host patterns, and regions (or jurisdictions)."""

    names: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.names or self.regions)

    def has(self, place: Place) -> bool:
        return any(_names(entry, place.provider, place.host) for entry in self.names) or (
            place.region in self.regions or (bool(place.jurisdiction) and place.jurisdiction in self.regions))

    def describe(self) -> str:
        return ", ".join([*self.regions, *self.names])


@dataclass(frozen=True, slots=True)
class KindRoute:
    """Requests carrying findings of ``kind`` may go only to ``allow`` (``source``: file:line)."""

    kind: str
    allow: Places
    source: str = ""


@dataclass(frozen=True, slots=True)
class Reroute:
    """Send requests for ``match`` (a provider name or host pattern) to ``target`` instead.

    ``target`` is ``scheme://host[:port][/prefix]``: the prefix replaces the one the client's
    base URL had, in front of the format's own path. ``models`` maps the client's model names
    (globs) to the target's; ``credential_env``/``credential_file`` name where the company's key
    for the target is, so the client's own key is never forwarded. ``kinds``: only requests
    carrying findings of these kinds are rerouted (empty: all).
    """

    match: str
    target: str
    models: tuple[tuple[str, str], ...] = ()
    credential_env: str = ""
    credential_file: str = ""
    credential_header: str = ""  # "" = the target format's usual header
    region: str = ""  # "" = the catalogue's region for the target host, else self-hosted
    kinds: tuple[str, ...] = ()
    source: str = ""

    def applies(self, provider: str, host: str, kinds: frozenset[str] | None) -> bool:
        if not _names(self.match, provider, host):
            return False
        return not self.kinds or (kinds is not None and any(kind in kinds for kind in self.kinds))

    def model_for(self, model: str) -> str | None:
        for pattern, target in self.models:
            if fnmatch.fnmatchcase(model, pattern):
                return target
        return None


@dataclass(frozen=True, slots=True)
class Destinations:
    """Which providers/hosts/regions a tenant may reach, per kind of data, and reroutes.

    ``allow``/``deny`` hold provider names (``openai``, ``deepseek``...), host patterns
    (``*.example.com``) and regions (``mainland``, ``self-hosted``, or a jurisdiction such as
    ``cn``). An empty ``allow`` allows everything not denied. ``kinds`` narrows where requests
    carrying a kind of finding may go. ``opaque``: what to do with assistants whose protocol
    llm-dlp cannot read (``deny``, or ``pass`` unscanned with an audit line saying so).
    """

    allow: Places = field(default_factory=Places)
    deny: Places = field(default_factory=Places)
    reroute: tuple[Reroute, ...] = ()
    kinds: tuple[KindRoute, ...] = ()
    opaque: str = "deny"

    def refusal(self, provider: str, host: str, region: str = "", jurisdiction: str = "") -> str | None:
        return self.refusal_at(Place(provider, host, region, jurisdiction))

    def refusal_at(self, place: Place) -> str | None:
        where = f"{place.host} ({place.provider}{', ' + place.region if place.region else ''})"
        if self.deny.has(place):
            return f"destination {where} is denied"
        if self.allow and not self.allow.has(place):
            return f"destination {where} is not among the allowed destinations ({self.allow.describe()})"
        return None

    def kind_refusal(self, kind: str, place: Place) -> KindRoute | None:
        """The rule that forbids sending ``kind`` to ``place``, or None."""
        for route in self.kinds:
            if route.kind == kind and not route.allow.has(place):
                return route
        return None

    def reroute_for(self, provider: str, host: str, kinds: frozenset[str] | None = None) -> Reroute | None:
        """The first reroute rule for this destination; ``kinds`` None: before the body is scanned."""
        for rule in self.reroute:
            if rule.applies(provider, host, kinds):
                return rule
        return None

    def reroute_target(self, provider: str, host: str) -> str | None:
        rule = self.reroute_for(provider, host)
        return rule.target if rule else None


def _names(entry: str, provider: str, host: str) -> bool:
    return entry == provider or fnmatch.fnmatchcase(host.lower(), entry.lower())


@dataclass(frozen=True, slots=True)
class Exceptions:
    """Findings that are known to be fine: by value hash, rule id, value pattern or file path."""

    values: frozenset[str] = frozenset()  # "hmac-sha256:..." as written in audit lines
    rules: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()  # globs on the file a tool call read or wrote

    def reason(self, rule: str, value: str, value_hash: str, path_hint: str | None) -> str | None:
        if value_hash in self.values:
            return "exceptions.values"
        if rule in self.rules:
            return "exceptions.rules"
        for pattern in self.patterns:
            try:
                if regex.search(pattern, value, timeout=0.05):
                    return "exceptions.patterns"
            except TimeoutError:
                continue
        if path_hint and any(fnmatch.fnmatchcase(path_hint, glob) for glob in self.paths):
            return "exceptions.paths"
        return None

    def merged(self, parent: "Exceptions") -> "Exceptions":
        return Exceptions(
            values=self.values | parent.values,
            rules=parent.rules + self.rules,
            patterns=parent.patterns + self.patterns,
            paths=parent.paths + self.paths,
        )


DEFAULT_BLOCK_MESSAGE = (
    "llm-dlp blocked this request under policy '{policy}': {findings}. "
    "Remove the data and try again."
)
TEMPLATE_FIELDS = ("policy", "findings", "contact", "help_url")


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    source: str
    rules: tuple[Rule, ...]
    members: Members = field(default_factory=Members)
    destinations: Destinations = field(default_factory=Destinations)
    exceptions: Exceptions = field(default_factory=Exceptions)
    mode: str = "enforce"  # enforce | monitor
    on_error: str = "block"  # block | allow
    # A TLS connection to a bare address with no SNI: nothing names the host, so it may be an AI
    # API reached by its address. block | tunnel (see README "Which connections are inspected").
    unknown_destination: str = "block"
    default_action: Action = Action.LOG
    max_body_bytes: int = 32 * 1024 * 1024
    scan_timeout_seconds: float = 30.0
    block_message: str = DEFAULT_BLOCK_MESSAGE
    contact: str = ""
    help_url: str = ""
    restore: dict[str, frozenset[str]] = field(default_factory=lambda: dict(DEFAULT_RESTORE))
    # Images, audio and other binary media no text scanner reads: forwarded with an audit line
    # counting them by type (allow), or the request blocked (block).
    media: str = "allow"
    # Prompts given as integer token ids cannot be scanned: refused unless allowed.
    token_ids: str = "refuse"

    def restores(self, kind: str, place: str) -> bool:
        """May a redacted value of ``kind`` be restored in ``place`` of the model's answer?"""
        return place in self.restore.get(kind, frozenset())

    def render_block_message(self, findings: str) -> str:
        message = self.block_message.format(
            policy=self.name, findings=findings, contact=self.contact, help_url=self.help_url
        )
        extras = [part for part in (
            f"Contact: {self.contact}" if self.contact and "{contact}" not in self.block_message else "",
            f"Help: {self.help_url}" if self.help_url and "{help_url}" not in self.block_message else "",
        ) if part]
        return " ".join([message, *extras])

    @property
    def fails_open(self) -> bool:
        return self.on_error == "allow"
