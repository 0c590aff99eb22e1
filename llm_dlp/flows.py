"""A mitmproxy flow's request read as the core's plain facts, live (the addon) or recorded (replay).

One reader for both, so ``llm-dlp replay`` sees a recorded request exactly as the proxy saw it
live: the same endpoint, user, groups, client address and header facts.
"""

from __future__ import annotations

import uuid

from mitmproxy import http

from llm_dlp.endpoints import Endpoint, EndpointTable, Target
from llm_dlp.request import RequestInfo, request_info

IDENTITY = "llm_dlp_identity"  # flow.metadata key: the Identity our users file gave the connection
REQUEST_ID = "llm_dlp_request_id"  # flow.metadata key: the id a request's audit lines share
TARGET = "llm_dlp_target"  # flow.metadata key: the Target its connection decided (target_of)


def target_of(flow: http.HTTPFlow, endpoints: EndpointTable) -> Target:
    """What the request is to the proxy. The endpoint comes from where its connection goes: the
    CONNECT authority inside a tunnel (mitmproxy puts it in ``request.host``), an absolute-form
    request's own target, and the SNI of the TLS the client spoke to us. The Host header and an
    HTTP/2 ``:authority`` only have to agree with it. Read before a reroute changes the target."""
    request = flow.request
    destination = endpoints.destination(request.host, request.port, flow.client_conn.sni)
    # mitmproxy clears an HTTP/1 absolute-form authority before our hooks; HTTP/2 keeps :authority.
    authorities = [*request.headers.get_all("host"), *([request.authority] if request.authority else [])]
    return endpoints.target(destination, authorities, request.scheme)


def info_from_flow(flow: http.HTTPFlow, endpoint: Endpoint) -> RequestInfo:
    # The host is the one the connection was decided for (target_of), not the Host header a
    # client writes, nor the reroute target the request may have been sent to since.
    target = flow.metadata.get(TARGET)
    # Our users file (addons/identity.py) knows groups; mitmproxy's own proxyauth (htpasswd,
    # LDAP) knows only the user name.
    identity = flow.metadata.get(IDENTITY)
    auth = (identity.user,) if identity else flow.metadata.get("proxyauth")
    return request_info(
        request_id=flow.metadata.setdefault(REQUEST_ID, uuid.uuid4().hex),
        method=flow.request.method,
        host=target.host if target else flow.request.pretty_host,
        path=flow.request.path,
        provider=endpoint.provider,
        headers=flow.request.headers,
        client_address=flow.client_conn.peername[0] if flow.client_conn.peername else None,
        user=auth[0] if auth else None,
        groups=identity.groups if identity else (),
        region=endpoint.region,
        jurisdiction=endpoint.jurisdiction,
        opaque=endpoint.opaque,
    )
