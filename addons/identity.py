"""Proxy authentication against the users file: who is this client, and in which groups?

Credentials are checked once per client connection (at CONNECT, or on the first plain-HTTP
request) and every flow on that connection carries the identity for the tenant choice.
Clients without credentials get the default tenant or a 407, as configured.
"""

from __future__ import annotations

from mitmproxy import http

from llm_dlp.identity import Identity, UsersFile, basic_credentials

META = "llm_dlp_identity"


class ProxyIdentity:
    def __init__(self, users: UsersFile, require_auth: bool) -> None:
        self.users = users
        self.require_auth = require_auth
        self._connections: dict[str, Identity | None] = {}

    def http_connect(self, flow: http.HTTPFlow) -> None:
        self._authenticate(flow)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.client_conn.id in self._connections:
            identity = self._connections[flow.client_conn.id]
            if identity is not None:
                flow.metadata[META] = identity
            return
        self._authenticate(flow)

    def client_disconnected(self, client) -> None:
        self._connections.pop(client.id, None)

    def _authenticate(self, flow: http.HTTPFlow) -> None:
        header = flow.request.headers.get("proxy-authorization")
        if header is None:
            if self.require_auth:
                self._challenge(flow, "proxy authentication required")
            else:
                self._connections[flow.client_conn.id] = None
            return
        credentials = basic_credentials(header)
        identity = self.users.check(*credentials) if credentials else None
        if identity is None:
            # Wrong credentials are never downgraded to the default tenant.
            self._challenge(flow, "proxy authentication failed")
            return
        del flow.request.headers["proxy-authorization"]
        self._connections[flow.client_conn.id] = identity
        flow.metadata[META] = identity

    @staticmethod
    def _challenge(flow: http.HTTPFlow, reason: str) -> None:
        flow.response = http.Response.make(
            407, f"llm-dlp: {reason}\n", {"proxy-authenticate": 'Basic realm="llm-dlp"', "content-type": "text/plain"}
        )
