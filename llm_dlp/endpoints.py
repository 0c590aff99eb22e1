"""Which hosts are AI API endpoints, who serves them, and where the data they receive goes.

The endpoints are data: ``llm_dlp/providers/catalogue.yaml`` lists each provider's hosts,
region and the API formats it serves under which path prefixes. Only these hosts are
TLS-intercepted; every other CONNECT is tunnelled untouched. The list is turned into anchored
``host:port`` regexes for mitmproxy's ``allow_hosts`` option, because mitmproxy matches those
patterns unanchored with ``re.search`` (``anthropic.com`` would also match
``anthropic.com.evil.example``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

REGIONS = ("mainland", "international", "self-hosted")
UNKNOWN_REGION = "unknown"  # an --intercept-host that names no region

@dataclass(frozen=True, slots=True)
class Endpoint:
    """A host pattern (``*`` matches one DNS label part), the provider that serves it, and where."""

    host: str
    provider: str
    port: int | None = 443  # None: any port
    region: str = UNKNOWN_REGION
    jurisdiction: str = ""
    opaque: bool = False  # an assistant's own protocol, not a model API format we read

    def in_region(self, names: tuple[str, ...]) -> bool:
        return self.region in names or (bool(self.jurisdiction) and self.jurisdiction in names)

    def pattern(self) -> str:
        label = r"[a-z0-9-]+"
        host = re.escape(self.host.lower()).replace(r"\*", label)
        port = r"\d+" if self.port is None else str(self.port)
        return rf"^{host}:{port}$"

    def matches(self, host: str, port: int) -> bool:
        return re.match(self.pattern(), f"{host.lower()}:{port}") is not None


@dataclass(frozen=True, slots=True)
class Provider:
    """One catalogue entry: a provider's hosts in one region and what it serves where."""

    name: str
    region: str
    hosts: tuple[str, ...]
    formats: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (format, path prefixes)
    jurisdiction: str = ""
    opaque: bool = False

    def prefix_for(self, format_name: str) -> str | None:
        """The path prefix this provider serves ``format_name`` under (its first), or None."""
        for name, prefixes in self.formats:
            if name == format_name:
                return prefixes[0]
        return None

    def endpoints(self) -> tuple[Endpoint, ...]:
        out = []
        for host in self.hosts:
            name, _, port = host.partition(":")
            out.append(Endpoint(name, self.name, int(port) if port else 443, self.region, self.jurisdiction, self.opaque))
        return tuple(out)


def load_catalogue(text: str | None = None) -> tuple[Provider, ...]:
    """The providers in ``catalogue.yaml`` (or in ``text``), checked so a typo fails at start-up."""
    if text is None:
        text = resources.files("llm_dlp.providers").joinpath("catalogue.yaml").read_text("utf-8")
    entries = yaml.safe_load(text)
    if not isinstance(entries, list):
        raise ValueError("the provider catalogue must be a list of providers")
    return tuple(_provider(entry, index) for index, entry in enumerate(entries))


def _provider(entry: Any, index: int) -> Provider:
    where = f"provider catalogue entry {index + 1}"
    if not isinstance(entry, dict) or not isinstance(entry.get("provider"), str):
        raise ValueError(f"{where}: needs a provider name")
    unknown = set(entry) - {"provider", "region", "jurisdiction", "hosts", "formats", "opaque"}
    if unknown:
        raise ValueError(f"{where} ({entry['provider']}): unknown keys {sorted(unknown)}")
    if entry.get("region") not in REGIONS:
        raise ValueError(f"{where} ({entry['provider']}): region must be one of {', '.join(REGIONS)}")
    hosts = entry.get("hosts")
    if not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) and re.fullmatch(r"[a-z0-9*.-]+(:\d+)?", h) for h in hosts):
        raise ValueError(f"{where} ({entry['provider']}): hosts must be a list of host names")
    formats = entry.get("formats") or {}
    if not isinstance(formats, dict) or not all(isinstance(p, list) and all(isinstance(x, str) for x in p) for p in formats.values()):
        raise ValueError(f"{where} ({entry['provider']}): formats must map a format to a list of path prefixes")
    return Provider(
        name=entry["provider"],
        region=entry["region"],
        hosts=tuple(hosts),
        formats=tuple((str(name), tuple(p.rstrip("/") for p in prefixes)) for name, prefixes in formats.items()),
        jurisdiction=str(entry.get("jurisdiction") or ""),
        opaque=bool(entry.get("opaque", False)),
    )


CATALOGUE: tuple[Provider, ...] = load_catalogue()
# The provider name labels audit lines and is what policies allow, deny or reroute; the request
# format is chosen by path (providers/).
BUILTIN_ENDPOINTS: tuple[Endpoint, ...] = tuple(e for provider in CATALOGUE for e in provider.endpoints())


def provider_for_host(host: str, port: int = 443) -> Provider | None:
    """The catalogue entry serving ``host``, or None (a self-hosted or unlisted endpoint)."""
    for provider in CATALOGUE:
        if any(endpoint.matches(host, port) for endpoint in provider.endpoints()):
            return provider
    return None


def parse_intercept_host(spec: str) -> Endpoint:
    """``HOST[:PORT][=PROVIDER[@REGION]]`` from ``--intercept-host``.

    The request format is chosen by path (``/v1/messages`` is Anthropic's, ``/chat/completions``
    OpenAI's), so the provider name only labels audit lines and picks the error shape for paths
    that name no format. The region is what residency rules match; a provider the catalogue
    knows keeps its region unless one is given.
    """
    provider, region = "custom", ""
    if "=" in spec:
        spec, provider = spec.split("=", 1)
        provider, _, region = provider.partition("@")
    known = next((p for p in CATALOGUE if p.name == provider), None)
    region = region or (known.region if known else UNKNOWN_REGION)
    host, sep, port = spec.rpartition(":")
    if not sep or not port.isdigit():
        host, port_number = spec, None
    else:
        port_number = int(port)
    if not re.fullmatch(r"[A-Za-z0-9*.-]+", host):
        raise ValueError(f"--intercept-host {spec!r}: not a host name")
    return Endpoint(host, provider, port_number, region, known.jurisdiction if known else "")


@dataclass(frozen=True, slots=True)
class EndpointTable:
    endpoints: tuple[Endpoint, ...]

    @classmethod
    def with_extra(cls, extra: list[Endpoint]) -> "EndpointTable":
        # Extra hosts come first so an operator can re-map a built-in host to another format.
        return cls(tuple(extra) + BUILTIN_ENDPOINTS)

    def allow_hosts(self) -> list[str]:
        return [e.pattern() for e in self.endpoints]

    def lookup(self, host: str, port: int) -> Endpoint | None:
        for endpoint in self.endpoints:
            if endpoint.matches(host, port):
                return endpoint
        return None
