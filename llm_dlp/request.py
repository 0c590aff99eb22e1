"""A request as it arrives: its facts, and the decisions its headers alone settle.

Built from plain values (method, header mapping, host, path, client, identity), so the live
proxy and ``llm-dlp replay`` read a request, and refuse it before its body arrives, the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from llm_dlp.endpoints import Target
from llm_dlp.policy.model import Policy
from llm_dlp.verdict import Verdict, failure


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """The facts about an intercepted request that the pipeline and the audit log need."""

    request_id: str
    method: str
    host: str
    path: str
    provider: str
    client_address: str | None = None
    user: str | None = None
    groups: tuple[str, ...] = ()
    content_encoding: str = ""
    content_type: str = ""
    body_signed: bool = False  # SigV4 signs the body hash: rewriting it breaks the request
    websocket: bool = False  # the client asks to upgrade to a WebSocket
    declared_length: int | None = None  # Content-Length, when the client sent one
    region: str = ""  # the endpoint's region (llm_dlp/providers/catalogue.yaml), for residency rules
    jurisdiction: str = ""
    opaque: bool = False  # the endpoint is an assistant's own protocol, not a model API
    # Every header as sent, in order (the pipeline scans the free-text ones: providers.target).
    # Never printed or audited: it holds the client's credentials.
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)


def request_info(
    *,
    request_id: str,
    method: str,
    host: str,
    path: str,
    provider: str,
    headers: Mapping[str, str],
    client_address: str | None = None,
    user: str | None = None,
    groups: tuple[str, ...] = (),
    region: str = "",
    jurisdiction: str = "",
    opaque: bool = False,
) -> RequestInfo:
    """``headers``: a case-insensitive mapping (mitmproxy's ``Headers``) or one with lower-case names."""
    length = headers.get("content-length", "")
    return RequestInfo(
        request_id=request_id,
        method=method,
        host=host,
        path=path,
        provider=provider,
        client_address=client_address,
        user=user,
        groups=tuple(groups),
        content_encoding=headers.get("content-encoding", ""),
        content_type=headers.get("content-type", ""),
        body_signed=headers.get("authorization", "").startswith("AWS4-HMAC-SHA256"),
        websocket=headers.get("upgrade", "").lower() == "websocket",
        declared_length=int(length) if length.isdigit() else None,
        region=region,
        jurisdiction=jurisdiction,
        opaque=opaque,
        headers=_header_fields(headers),
    )


def _header_fields(headers: Mapping[str, str] | Any) -> tuple[tuple[str, str], ...]:
    # mitmproxy's Headers keeps repeated fields apart only in ``fields`` (raw bytes).
    if hasattr(headers, "fields"):
        return tuple((name.decode("latin-1"), _text(value)) for name, value in headers.fields)
    return tuple(headers.items())


def _text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")  # every byte a character: nothing dropped unscanned


def header_verdict(info: RequestInfo, policy: Policy) -> Verdict | None:
    """A decision that needs only the request headers (refused upgrades, oversized bodies), or None."""
    if info.websocket:
        return failure(
            policy, 403, "llm-dlp does not inspect WebSocket traffic to AI APIs; use HTTPS requests", "websocket refused"
        )
    if info.declared_length is not None and info.declared_length > policy.max_body_bytes:
        return Verdict(
            "error", policy.name, status=413, policy_mode=policy.mode, error="body too large",
            message=f"request body of {info.declared_length} bytes is over llm-dlp's limit of {policy.max_body_bytes}",
            body_bytes=info.declared_length,
        )
    return None


def passes_unscanned(target: Target, policy: Policy) -> bool:
    """A request on a connection to a bare address that names no host and no AI API, where the
    tenant's policy tunnels such connections: it passes as any other host's traffic does."""
    return target.unnamed and policy.unknown_destination == "tunnel"


def connection_verdict(target: Target, policy: Policy) -> Verdict | None:
    """A refusal its connection settles before any header or body is read: a Host that disagrees
    with the connection, or a destination nothing names. Never failed open, in any mode: scanning
    it as one endpoint while it reaches another would be no decision at all."""
    if not target.refusal:
        return None
    return Verdict(
        "error", policy.name, status=target.status, message=target.refusal, policy_mode=policy.mode,
        error="unknown destination" if target.unnamed else "host disagrees with connection",
    )
