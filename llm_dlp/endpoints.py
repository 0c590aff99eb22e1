"""Which hosts are AI API endpoints, who serves them, and where the data they receive goes.

The endpoints are data: ``llm_dlp/providers/catalogue.yaml`` lists each provider's hosts,
region and the API formats it serves under which path prefixes. Host patterns are anchored
(``anthropic.com`` never matches ``anthropic.com.evil.example``).

Which connections are intercepted, and as which endpoint, is decided once per connection from
where it goes (the CONNECT authority, or an absolute-form request's target) and the name its TLS
ClientHello gives (SNI): ``EndpointTable.destination``. A request inside is then held to that
decision (``EndpointTable.target``): the Host header never chooses the endpoint, it only has to
agree with it.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

REGIONS = ("mainland", "international", "self-hosted")
UNKNOWN_REGION = "unknown"  # an --intercept-host that names no region
UNKNOWN_PROVIDER = "unknown"  # a connection to a bare address that no name identifies

@dataclass(frozen=True, slots=True)
class Endpoint:
    """A host pattern (``*`` matches one DNS label part), the provider that serves it, and where."""

    host: str
    provider: str
    port: int | None = 443  # None: any port
    region: str = UNKNOWN_REGION
    jurisdiction: str = ""
    opaque: bool = False  # an assistant's own protocol, not a model API format we read
    # The host was named with its port: another port on it is another service. A catalogue host
    # named without one is the provider's on every port, so a CONNECT to an unusual port of it is
    # intercepted too, never tunnelled.
    only_port: bool = True

    def in_region(self, names: tuple[str, ...]) -> bool:
        return self.region in names or (bool(self.jurisdiction) and self.jurisdiction in names)

    def matches(self, host: str, port: int) -> bool:
        return self.names(host) and (self.port is None or self.port == port)

    def names(self, host: str) -> bool:
        """Does the host pattern match ``host`` (any case, with or without the root's dot)?"""
        return _host_regex(self.host).fullmatch(normalise_host(host)) is not None

    def pattern(self) -> str:
        """An anchored ``host:port`` regex for the connections ``EndpointTable.destination``
        intercepts for this endpoint (a PAC file runs it in JavaScript on a lower-case host)."""
        port = r"\d+" if self.port is None or not self.only_port else str(self.port)
        return rf"^{_host_regex(self.host).pattern}\.?:{port}$"


@functools.lru_cache(maxsize=1024)
def _host_regex(host: str) -> re.Pattern[str]:
    """``*`` matches one DNS label part; every other character itself."""
    return re.compile(re.escape(host.lower()).replace(r"\*", r"[a-z0-9-]+"))


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
            out.append(Endpoint(name, self.name, int(port) if port else 443, self.region, self.jurisdiction, self.opaque,
                                only_port=bool(port)))
        return tuple(out)


def load_catalogue(text: str | None = None) -> tuple[Provider, ...]:
    """The providers in ``catalogue.yaml`` (or in ``text``), checked so a typo fails at start-up."""
    if text is None:
        text = resources.files("llm_dlp").joinpath("providers", "catalogue.yaml").read_text("utf-8")
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


def normalise_host(host: str) -> str:
    """A host as the resolver reads it: lower case, no IPv6 brackets, no root dot (``api.x.com.``
    is the same host as ``api.x.com``)."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.rstrip(".")


def is_address(host: str) -> bool:
    """Is ``host`` an address rather than a name? IPv4 counts in the old forms resolvers still
    accept (``127.1``, ``0x7f.1``, ``2130706433``): each reaches a host without naming it."""
    host = normalise_host(host)
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        return True
    except ValueError:
        pass
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True


def split_authority(authority: str, default_port: int) -> tuple[str, int] | None:
    """``host[:port]`` (IPv6 in brackets) as a normalised host and a port; None if malformed."""
    authority = authority.strip()
    match = re.fullmatch(r"(\[[^\]]*\]|[^:\[\]]*)(?::(\d{1,5}))?", authority)
    if match is None or not match.group(1):
        return None
    return normalise_host(match.group(1)), int(match.group(2)) if match.group(2) else default_port


@dataclass(frozen=True, slots=True)
class Destination:
    """Where one client connection goes, decided once from its authority and its TLS SNI.

    ``endpoint`` is the AI endpoint it reaches, or None. ``unnamed``: it goes to a bare address and
    no SNI names a host, so nothing says whether it is an AI API; the tenant's policy decides
    (``unknown_destination``).
    """

    host: str  # the name the decision rests on (normalised), or the address
    port: int
    endpoint: Endpoint | None = None
    unnamed: bool = False


@dataclass(frozen=True, slots=True)
class Target:
    """What one request on a destination is to the proxy.

    ``endpoint`` None: not an AI API request, it passes untouched. Otherwise its provider chooses
    the policy and the error shape; ``refusal`` (said to the client and the audit, never holding
    the request's own names) means it must not go on, with ``status``. ``unnamed``: a request on
    an unnamed destination, refused or passed as the tenant's policy says.
    """

    endpoint: Endpoint | None
    host: str = ""
    refusal: str = ""
    status: int = 421
    unnamed: bool = False


@dataclass(frozen=True, slots=True)
class EndpointTable:
    endpoints: tuple[Endpoint, ...]

    @classmethod
    def with_extra(cls, extra: list[Endpoint]) -> "EndpointTable":
        # Extra hosts come first so an operator can re-map a built-in host to another format.
        return cls(tuple(extra) + BUILTIN_ENDPOINTS)

    def lookup(self, host: str, port: int) -> Endpoint | None:
        """The endpoint serving ``host`` on ``port``; else one of a host the catalogue names
        without a port, whatever the port (never a tunnel to an AI host on an unusual port)."""
        name = normalise_host(host)
        other_port = None
        for endpoint in self.endpoints:
            if _host_regex(endpoint.host).fullmatch(name) is None:
                continue
            if endpoint.port is None or endpoint.port == port:
                return endpoint
            if other_port is None and not endpoint.only_port:
                other_port = endpoint
        return other_port

    def destination(self, host: str, port: int, sni: str | None = None) -> Destination:
        """A connection to ``host:port`` (the CONNECT authority or request target) whose TLS
        ClientHello named ``sni``: the AI endpoint either names, else none, else unnamed."""
        host = normalise_host(host)
        name = normalise_host(sni) if sni and not is_address(sni) else None
        for candidate in (host, name):
            endpoint = self.lookup(candidate, port) if candidate else None
            if endpoint is not None:
                return Destination(candidate, port, endpoint)  # type: ignore[arg-type]
        return Destination(host, port, None, unnamed=name is None and is_address(host))

    def target(self, destination: Destination, authorities: list[str], scheme: str) -> Target:
        """A request on ``destination`` whose Host header (and HTTP/2 ``:authority``) read
        ``authorities``. Every one of them must name the connection's own endpoint: a request that
        names another host, or names an AI host while its connection goes elsewhere, is refused,
        never forwarded unscanned."""
        default_port = 443 if scheme == "https" else 80
        named = [self._named(authority, default_port) for authority in authorities]
        endpoint = destination.endpoint
        if endpoint is not None:
            if any(other != endpoint for other in named):
                return Target(endpoint, destination.host, refusal=(
                    f"llm-dlp refused this request: its Host header names another host than its connection, "
                    f"which goes to {destination.host}"))
            return Target(endpoint, destination.host)
        claimed = next((other for other in named if isinstance(other, Endpoint)), None)
        if claimed is not None:
            # Audited under the API it claims: the host it goes to is any name a client chose,
            # and may carry a value in its labels.
            return Target(claimed, claimed.host, refusal=(
                "llm-dlp refused this request: its Host header names an AI API, but its connection goes "
                "to another host"))
        if destination.unnamed:
            return Target(Endpoint(destination.host, UNKNOWN_PROVIDER, destination.port), destination.host, status=403,
                          unnamed=True, refusal=(
                              f"llm-dlp refused this request: its connection goes to the address {destination.host} "
                              f"and names no host, so it cannot tell whether it is an AI API (policy: "
                              f"unknown_destination: block)"))
        return Target(None, destination.host)

    def _named(self, authority: str, default_port: int) -> Endpoint | None | bool:
        """The endpoint a Host value names; None for a host that is none; False when malformed
        (which agrees with no endpoint)."""
        parsed = split_authority(authority, default_port)
        if parsed is None:
            return False
        return self.lookup(*parsed)
