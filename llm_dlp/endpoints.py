"""Which hosts are AI API endpoints, and which provider format each speaks.

Only these hosts are TLS-intercepted; every other CONNECT is tunnelled untouched. The list is
turned into anchored ``host:port`` regexes for mitmproxy's ``allow_hosts`` option, because
mitmproxy matches those patterns unanchored with ``re.search`` (``anthropic.com`` would also
match ``anthropic.com.evil.example``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A host pattern (``*`` matches one DNS label part) and the provider that serves it."""

    host: str
    provider: str
    port: int | None = 443  # None: any port

    def pattern(self) -> str:
        label = r"[a-z0-9-]+"
        host = re.escape(self.host.lower()).replace(r"\*", label)
        port = r"\d+" if self.port is None else str(self.port)
        return rf"^{host}:{port}$"

    def matches(self, host: str, port: int) -> bool:
        return re.match(self.pattern(), f"{host.lower()}:{port}") is not None


# The provider name labels audit lines and is what policies allow, deny or reroute; the request
# format is chosen by path (providers/).
BUILTIN_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("api.anthropic.com", "anthropic"),
    Endpoint("api.openai.com", "openai"),
    Endpoint("chatgpt.com", "openai"),  # Codex CLI with ChatGPT login: /backend-api/codex/responses
    Endpoint("generativelanguage.googleapis.com", "gemini"),
    Endpoint("cloudcode-pa.googleapis.com", "gemini"),  # Gemini CLI with Google login
    Endpoint("aiplatform.googleapis.com", "gemini"),
    Endpoint("*-aiplatform.googleapis.com", "gemini"),  # Vertex AI regional hosts
    Endpoint("api.githubcopilot.com", "copilot"),
    Endpoint("api.*.githubcopilot.com", "copilot"),  # individual / business / enterprise plans
    Endpoint("proxy.*.githubcopilot.com", "copilot"),
    Endpoint("copilot-proxy.githubusercontent.com", "copilot"),  # legacy completions (prompt+suffix)
    Endpoint("api.mistral.ai", "mistral"),
    Endpoint("codestral.mistral.ai", "mistral"),
    Endpoint("api.deepseek.com", "deepseek"),
    Endpoint("dashscope.aliyuncs.com", "qwen"),
    Endpoint("dashscope-intl.aliyuncs.com", "qwen"),
    Endpoint("*.maas.aliyuncs.com", "qwen"),
    Endpoint("api.moonshot.cn", "moonshot"),
    Endpoint("api.moonshot.ai", "moonshot"),
    Endpoint("*.openai.azure.com", "azure-openai"),
    Endpoint("*.cognitiveservices.azure.com", "azure-openai"),
    Endpoint("*.services.ai.azure.com", "azure-openai"),
    Endpoint("bedrock-runtime.*.amazonaws.com", "bedrock"),
    Endpoint("bedrock-runtime-fips.*.amazonaws.com", "bedrock"),
)


def parse_intercept_host(spec: str) -> Endpoint:
    """``HOST[:PORT][=PROVIDER]`` from ``--intercept-host``.

    The request format is chosen by path (``/v1/messages`` is Anthropic's, ``/chat/completions``
    OpenAI's), so the provider name only labels audit lines and picks the error shape for paths
    that name no format.
    """
    provider = "custom"
    if "=" in spec:
        spec, provider = spec.split("=", 1)
    host, sep, port = spec.rpartition(":")
    if not sep or not port.isdigit():
        host, port_number = spec, None
    else:
        port_number = int(port)
    if not re.fullmatch(r"[A-Za-z0-9*.-]+", host):
        raise ValueError(f"--intercept-host {spec!r}: not a host name")
    return Endpoint(host, provider, port_number)


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
