"""A mitmproxy flow's request read as the core's plain facts, live (the addon) or recorded (replay).

One reader for both, so ``llm-dlp replay`` sees a recorded request exactly as the proxy saw it
live: the same user, groups, client address and header facts.
"""

from __future__ import annotations

import uuid

from mitmproxy import http

from llm_dlp.endpoints import Endpoint
from llm_dlp.request import RequestInfo, request_info

IDENTITY = "llm_dlp_identity"  # flow.metadata key: the Identity our users file gave the connection
REQUEST_ID = "llm_dlp_request_id"  # flow.metadata key: the id a request's audit lines share


def info_from_flow(flow: http.HTTPFlow, endpoint: Endpoint) -> RequestInfo:
    # Our users file (addons/identity.py) knows groups; mitmproxy's own proxyauth (htpasswd,
    # LDAP) knows only the user name.
    identity = flow.metadata.get(IDENTITY)
    auth = (identity.user,) if identity else flow.metadata.get("proxyauth")
    return request_info(
        request_id=flow.metadata.setdefault(REQUEST_ID, uuid.uuid4().hex),
        method=flow.request.method,
        host=flow.request.pretty_host,
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
