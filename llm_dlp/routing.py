"""Where a request goes: whether it may go there, and how a reroute sends it elsewhere.

The pipeline asks here before scanning (is the destination, after any reroute, allowed?) and
after deciding (does what the request carries allow it there; is it rerouted because of it?).

A reroute is three changes, all decided here and applied by the addon: the host (and the path
prefix the target serves the same format under), the model name in the body (the policy maps
the client's names to the target's), and the credential (the company's key for the target,
read from a secret file or an environment variable; the client's own key never goes on).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from llm_dlp.endpoints import provider_for_host
from llm_dlp.policy.model import Action, Destinations, KindRoute, Place, Policy, Reroute
from llm_dlp.providers import anthropic, openai, responses
from llm_dlp.splice import replace_strings
from llm_dlp.request import RequestInfo
from llm_dlp.verdict import Inspection, Verdict, failure

SELF_HOSTED = "self-hosted"
# Headers that carry the client's credentials for the original provider.
CLIENT_CREDENTIALS = ("authorization", "x-api-key", "api-key", "x-goog-api-key")
# Each format's own path, which stays when the prefix in front of it changes: Anthropic's
# includes its version, OpenAI-compatible bases carry theirs (/v1, /api/paas/v4, /api/coding/v3).
_TAILS = {anthropic.FORMAT: "/v1/messages", openai.FORMAT: "/chat/completions", responses.FORMAT: "/responses"}
# Formats whose body names the model in a top-level "model" string.
_MODEL_IN_BODY = frozenset(_TAILS)


class RouteError(RuntimeError):
    """A reroute cannot be carried out (its credential is missing): the request must not go on."""


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str
    port: int
    prefix: str  # "" when the target serves the format at the root

    @property
    def authority(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


def parse_target(url: str) -> Target:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return Target(parts.scheme, (parts.hostname or "").lower(), port, parts.path.rstrip("/"))


def origin(info: RequestInfo) -> Place:
    return Place(info.provider, info.host, info.region, info.jurisdiction)


def destination(info: RequestInfo, rule: Reroute | None) -> Place:
    """Where the request ends up: its own host, or the reroute target with the target's region.

    A target the catalogue knows has the catalogue's region; any other is the company's own
    (self-hosted), unless the rule says otherwise.
    """
    if rule is None:
        return origin(info)
    target = parse_target(rule.target)
    known = provider_for_host(target.host, target.port)
    region = rule.region or (known.region if known else SELF_HOSTED)
    return Place(known.name if known else SELF_HOSTED, target.host, region, known.jurisdiction if known else "")


def rerouted_path(path: str, format_name: str, target: Target) -> str:
    """``path`` under the target's prefix: the client's base-URL prefix is replaced, the format's
    own path and the query are kept. A path whose format has no known tail keeps its shape."""
    route, sep, query = path.partition("?")
    tail = _TAILS.get(format_name)
    cut = route.rfind(tail) if tail else -1
    if cut < 0:
        return target.prefix + path if target.prefix else path
    return target.prefix + route[cut:] + sep + query


def mapped_model(rule: Reroute, format_name: str | None, model: str | None) -> str | None:
    """The target's name for the client's model, when the rule maps it and the body holds it."""
    if format_name not in _MODEL_IN_BODY or not model:
        return None
    return rule.model_for(model)


def with_model(body_text: str, model: str) -> str:
    """The body with its top-level ``model`` string replaced; every other byte stays."""
    return replace_strings(body_text, {("model",): model})


# -- the decisions: where a request may go, and where it goes ---------------------------------


def refusal(info: RequestInfo, policy: Policy) -> str | None:
    """Why the request may not go where it is going (after a reroute that needs no scan), or None."""
    rule = policy.destinations.reroute_for(info.provider, info.host)
    return policy.destinations.refusal_at(destination(info, rule))


def opaque(info: RequestInfo, policy: Policy) -> Verdict:
    """An assistant's own protocol: refused, or passed unscanned as the policy says, and audited."""
    if policy.destinations.opaque == "pass":
        return Verdict("allow", policy.name, format="opaque", policy_mode=policy.mode,
                       message=f"forwarded unscanned: {info.provider} speaks its own protocol (destinations.opaque: pass)")
    return failure(policy, 403, f"llm-dlp cannot inspect {info.provider}'s own protocol, so this policy does not "
                   "let it through (destinations.opaque: deny)", "opaque protocol refused")


def routed(inspection: Inspection, info: RequestInfo, body_text: str, policy: Policy) -> Inspection:
    """Apply the destination rules that depend on what the request carries, and any reroute.

    A value leaves in the request unless it was redacted, so only findings forwarded as they are
    count as carried (in monitor mode every finding is: the original body goes on). A reroute
    rule may apply only to requests carrying some kinds; the kinds' residency rules are then
    checked against where the request really goes.
    """
    verdict = inspection.verdict
    carried = frozenset(f.kind for f in verdict.findings if _carried(f.action, policy))
    rule = policy.destinations.reroute_for(info.provider, info.host, carried)
    place = destination(info, rule)
    refusal = policy.destinations.refusal_at(place) if rule is not None else None
    breaking = {kind: route for kind in sorted(carried) if (route := policy.destinations.kind_refusal(kind, place))}
    if refusal or breaking:
        return Inspection(_residency_block(verdict, policy, place, refusal, breaking))
    if rule is None:
        return inspection
    model = mapped_model(rule, verdict.format, verdict.model)
    body = inspection.body
    if model is not None:
        body = with_model(body.decode("utf-8") if body is not None else body_text, model).encode("utf-8")
    route = {"region": place.region, "provider": place.provider, "rule": rule.source, **({"model": model} if model else {})}
    return dataclasses.replace(inspection, verdict=dataclasses.replace(verdict, reroute=rule.target, route=route), body=body)


def _carried(action: str, policy: Policy) -> bool:
    return policy.mode == "monitor" or action in (Action.ALLOW.label, Action.LOG.label)


def _residency_block(verdict: Verdict, policy: Policy, place: Place, refusal: str | None, breaking: dict[str, KindRoute]) -> Verdict:
    findings = tuple(
        dataclasses.replace(f, action=Action.BLOCK.label, policy_rule=f"destinations.kinds.{f.kind} ({breaking[f.kind].source})")
        if f.kind in breaking and _carried(f.action, policy) else f for f in verdict.findings)
    reasons = [refusal] if refusal else []
    reasons += [f"{kind} may go only to {route.allow.describe()}, not to {place.host} ({place.region or 'unknown region'})"
                for kind, route in breaking.items()]
    route = {"region": place.region, "provider": place.provider,
             "rule": ", ".join(f"destinations.kinds.{k} ({r.source})" for k, r in breaking.items()) or "destinations"}
    message = policy.render_block_message("; ".join(reasons))
    if policy.mode == "monitor":
        return dataclasses.replace(verdict, decision="would_block", findings=findings, message=message, route=route)
    return dataclasses.replace(verdict, decision="block", status=403, findings=findings, message=message, route=route)


# -- the plan the addon carries out --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Forwarding:
    """How the addon sends a rerouted request: never logged, since ``set_headers`` holds a key."""

    scheme: str
    host: str
    port: int
    host_header: str
    path: str
    drop_headers: tuple[str, ...]
    set_headers: tuple[tuple[str, str], ...]

    def __repr__(self) -> str:  # a stray log line must not print the key
        return f"Forwarding({self.scheme}://{self.host_header}{self.path})"


def forwarding_for(destinations: Destinations, verdict: Verdict, path: str) -> Forwarding | None:
    """How to send a request whose verdict reroutes it (the rule is found by its source line)."""
    source = (verdict.route or {}).get("rule")
    rule = next((r for r in destinations.reroute if verdict.reroute and r.source == source), None)
    if rule is None:
        return None
    return forwarding(rule, path, verdict.format or "")


def forwarding(rule: Reroute, path: str, format_name: str) -> Forwarding:
    target = parse_target(rule.target)
    key = credential(rule)
    headers: tuple[tuple[str, str], ...] = ()
    if key is not None:
        header = rule.credential_header or ("x-api-key" if format_name == anthropic.FORMAT else "authorization")
        headers = ((header, f"Bearer {key}" if header == "authorization" else key),)
    return Forwarding(target.scheme, target.host, target.port, target.authority,
                      rerouted_path(path, format_name, target), CLIENT_CREDENTIALS, headers)


def credential(rule: Reroute) -> str | None:
    """The company's key for the rule's target, or None when the rule names none."""
    if rule.credential_env:
        value = os.environ.get(rule.credential_env, "").strip()
        if not value:
            raise RouteError(f"reroute {rule.source}: environment variable {rule.credential_env} holds no key")
        return value
    if rule.credential_file:
        try:
            value = Path(rule.credential_file).read_text("utf-8").strip()
        except OSError as exc:
            raise RouteError(f"reroute {rule.source}: cannot read {rule.credential_file}: {exc.strerror}") from None
        if not value:
            raise RouteError(f"reroute {rule.source}: {rule.credential_file} is empty")
        return value
    return None
