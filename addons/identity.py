"""Proxy authentication against the users file: who is this client, and in which groups?

Credentials are checked once per client connection (at CONNECT, or on the first plain-HTTP
request) and every flow on that connection carries the identity for the tenant choice.
Clients without credentials get the default tenant or a 407, as configured. Every 407 is
audited (``AuthFailureEvent``), with the user name only when the users file knows it: a
password typed into the user field must not reach the log.
"""

from __future__ import annotations

import logging

from mitmproxy import http

from llm_dlp.audit.events import AuthFailureEvent
from llm_dlp.audit.log import AuditLog, AuditWriteError
from llm_dlp.identity import Identity, UsersFile, basic_credentials

META = "llm_dlp_identity"


class ProxyIdentity:
    def __init__(self, users: UsersFile, require_auth: bool, audit: AuditLog | None = None) -> None:
        self.users = users
        self.require_auth = require_auth
        self.audit = audit
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
                self._challenge(flow, "proxy authentication required", "no credentials")
            else:
                self._connections[flow.client_conn.id] = None
            return
        credentials = basic_credentials(header)
        identity = self.users.check(*credentials) if credentials else None
        if identity is None:
            # Wrong credentials are never downgraded to the default tenant.
            known = credentials is not None and self.users.knows(credentials[0])
            why = "malformed credentials" if credentials is None else "wrong password" if known else "unknown user"
            self._challenge(flow, "proxy authentication failed", why, credentials[0] if known else None)
            return
        del flow.request.headers["proxy-authorization"]
        self._connections[flow.client_conn.id] = identity
        flow.metadata[META] = identity

    def _challenge(self, flow: http.HTTPFlow, reason: str, why: str, user: str | None = None) -> None:
        flow.response = http.Response.make(
            407, f"llm-dlp: {reason}\n", {"proxy-authenticate": 'Basic realm="llm-dlp"', "content-type": "text/plain"}
        )
        if self.audit is None:
            return
        client = flow.client_conn.peername[0] if flow.client_conn.peername else None
        try:
            self.audit.record_event(AuthFailureEvent(client=client, reason=why, user=user, host=flow.request.pretty_host))
        except AuditWriteError as exc:  # the client is refused either way
            logging.getLogger("llm_dlp").error("%s", exc)
