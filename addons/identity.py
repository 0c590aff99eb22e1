"""Proxy authentication against the users file: who is this client, and in which groups?

Credentials are checked at CONNECT for the whole tunnel, and every flow inside carries that
identity for the tenant choice. Plain proxy requests carry their own credentials, each request
its own: a connection (from another proxy pooling its users' requests, say) may serve several
users, so each request is the user its credentials name, never the connection's first user. A
check is remembered per connection and credentials, so bcrypt runs once for each.
Clients without credentials get the default tenant or a 407, as configured. Every 407 is
audited (``AuthFailureEvent``), with the user name only when the users file knows it: a
password typed into the user field must not reach the log.

Options: ``llm_dlp_users_file`` (none: this addon does nothing) and ``llm_dlp_unauthenticated``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from mitmproxy import ctx, exceptions, http

from llm_dlp.audit.events import AuthFailureEvent
from llm_dlp.audit.log import AuditLog, AuditWriteError
from llm_dlp.flows import IDENTITY as META
from llm_dlp.identity import Identity, UsersFile, UsersFileError, basic_credentials

UNAUTHENTICATED = ("default", "reject")


@dataclass(frozen=True, slots=True)
class _Login:
    """Who a connection's credentials were: for its CONNECT tunnel, or for the plain requests
    that carry exactly ``header``."""

    header: str | None
    identity: Identity | None
    tunnel: bool


class ProxyIdentity:
    def __init__(self, audit: AuditLog | None = None) -> None:
        self.users: UsersFile | None = None
        self.require_auth = False
        self.audit = audit
        self._connections: dict[str, _Login] = {}

    def load(self, loader) -> None:
        loader.add_option(
            "llm_dlp_users_file", Optional[str], None,  # noqa: UP045 — mitmproxy matches Optional[str]
            "Proxy users: bcrypt password hashes and groups (YAML). Their groups choose the tenant.",
        )
        loader.add_option(
            "llm_dlp_unauthenticated", str, "default",
            "Clients without proxy credentials: use the default tenant, or answer 407.",
            choices=UNAUTHENTICATED,
        )

    def configure(self, updated: set[str]) -> None:
        if not {"llm_dlp_users_file", "llm_dlp_unauthenticated"} & updated:
            return
        path, unauthenticated = ctx.options.llm_dlp_users_file, ctx.options.llm_dlp_unauthenticated
        if unauthenticated not in UNAUTHENTICATED:
            raise exceptions.OptionsError(
                f"llm_dlp_unauthenticated {unauthenticated!r}: use default (the default tenant) or reject (answer 407)"
            )
        require_auth = unauthenticated == "reject"
        if require_auth and not path:
            raise exceptions.OptionsError(
                "llm_dlp_unauthenticated=reject needs a users file (llm_dlp_users_file) to check credentials against"
            )
        try:
            self.users = UsersFile.load(Path(path)) if path else None
        except UsersFileError as exc:
            raise exceptions.OptionsError(f"users file {exc}") from None
        self.require_auth = require_auth
        self._connections.clear()

    def http_connect(self, flow: http.HTTPFlow) -> None:
        if self.users is not None:
            self._authenticate(flow, self.users, tunnel=True)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if self.users is None:
            return
        login = self._connections.get(flow.client_conn.id)
        header = flow.request.headers.get("proxy-authorization")
        if login is None or not (login.tunnel or login.header == header):
            self._authenticate(flow, self.users, tunnel=False)
            return
        flow.request.headers.pop("proxy-authorization", None)  # never forwarded upstream
        if login.identity is not None:
            flow.metadata[META] = login.identity

    def client_disconnected(self, client) -> None:
        self._connections.pop(client.id, None)

    def _authenticate(self, flow: http.HTTPFlow, users: UsersFile, tunnel: bool) -> None:
        header = flow.request.headers.get("proxy-authorization")
        if header is None:
            if self.require_auth:
                self._challenge(flow, "proxy authentication required", "no credentials")
            else:
                self._connections[flow.client_conn.id] = _Login(None, None, tunnel)
            return
        credentials = basic_credentials(header)
        identity = users.check(*credentials) if credentials else None
        if identity is None:
            # Wrong credentials are never downgraded to the default tenant.
            known = credentials is not None and users.knows(credentials[0])
            why = "malformed credentials" if credentials is None else "wrong password" if known else "unknown user"
            self._challenge(flow, "proxy authentication failed", why, credentials[0] if known else None)
            return
        del flow.request.headers["proxy-authorization"]
        self._connections[flow.client_conn.id] = _Login(header, identity, tunnel)
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
