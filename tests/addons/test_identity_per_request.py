"""Plain proxy requests are each the user their own credentials name, whatever the connection.

Another proxy pooling its users' requests sends several users' requests over one connection:
caching the first user's login for the connection gave the second user the first one's tenant,
and the first one's restored values.
"""

from __future__ import annotations

import base64

from mitmproxy.test import taddons, tflow

from addons.identity import ProxyIdentity
from llm_dlp.flows import IDENTITY
from llm_dlp.identity import hash_password


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def plain_request(client, authorization: str | None):
    flow = tflow.tflow()
    flow.client_conn = client
    if authorization is not None:
        flow.request.headers["proxy-authorization"] = authorization
    return flow


def test_each_plain_request_on_one_connection_is_its_own_user(tmp_path):
    users = tmp_path / "users.yaml"
    users.write_text(
        f"users:\n  alice:\n    password: '{hash_password('a-pw')}'\n"
        f"  bob:\n    password: '{hash_password('b-pw')}'\n"
    )
    addon = ProxyIdentity()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, llm_dlp_users_file=str(users))
        client = tflow.tclient_conn()
        seen = []
        for authorization in (basic("alice", "a-pw"), basic("alice", "a-pw"), basic("bob", "b-pw"), None,
                              basic("alice", "a-pw")):
            flow = plain_request(client, authorization)
            addon.requestheaders(flow)
            assert flow.response is None
            assert "proxy-authorization" not in flow.request.headers  # never forwarded upstream
            identity = flow.metadata.get(IDENTITY)
            seen.append(identity.user if identity else None)
        assert seen == ["alice", "alice", "bob", None, "alice"]


def test_a_tunnel_is_the_user_who_opened_it(tmp_path):
    users = tmp_path / "users.yaml"
    users.write_text(f"users:\n  alice:\n    password: '{hash_password('a-pw')}'\n")
    addon = ProxyIdentity()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, llm_dlp_users_file=str(users))
        connect = plain_request(tflow.tclient_conn(), basic("alice", "a-pw"))
        connect.request.method = "CONNECT"
        addon.http_connect(connect)
        inside = plain_request(connect.client_conn, None)  # requests inside TLS carry no proxy credentials
        addon.requestheaders(inside)
        assert inside.metadata[IDENTITY].user == "alice"
