"""One rule for which connections are intercepted and what each request on them is.

The endpoint table decides from the connection (authority, SNI); ``ConnectionGate`` applies it at
the TLS ClientHello, the DLP addon to every request: a Host or HTTP/2 ``:authority`` that
disagrees is refused, plain HTTP to an AI host is scanned like HTTPS.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from pathlib import Path

import pytest
from mitmproxy import connection, http, tls
from mitmproxy.proxy.context import Context
from mitmproxy.proxy.layers.tls import parse_client_hello
from mitmproxy.test import taddons, tflow, tutils

from addons.connections import ConnectionGate
from addons.dlp import META, DlpAddon
from llm_dlp.endpoints import EndpointTable, is_address, parse_intercept_host
from llm_dlp.flows import TARGET
from llm_dlp.policy.loader import load_policy_dir
from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.proxyrun import copy_policies
from tests.addons.conftest import audit_lines, chat

TABLE = EndpointTable.with_extra([parse_intercept_host("gateway.corp.example:8443")])


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "[::1]", "2130706433", "127.1", "0x7f.0.0.1", "10.0.0.1."])
def test_addresses_in_every_form_a_resolver_reads_name_no_host(host):
    assert is_address(host)
    assert TABLE.destination(host, 443).unnamed


@pytest.mark.parametrize("host", ["localhost", "api.anthropic.com", "1e100.net", "example.org"])
def test_names_are_not_addresses(host):
    assert not is_address(host) and not TABLE.destination(host, 443).unnamed


def test_the_connection_names_the_endpoint_by_authority_or_by_sni():
    assert TABLE.destination("API.Anthropic.com.", 443).endpoint.provider == "anthropic"
    by_sni = TABLE.destination("160.79.104.10", 443, "api.anthropic.com")
    assert (by_sni.host, by_sni.endpoint.provider, by_sni.unnamed) == ("api.anthropic.com", "anthropic", False)
    other = TABLE.destination("160.79.104.10", 443, "example.org")
    assert other.endpoint is None and not other.unnamed  # named, not an AI API: tunnelled
    assert TABLE.destination("160.79.104.10", 443, "10.1.2.3").unnamed  # an address as SNI names nothing
    # A catalogue host on a port the catalogue does not name is still the provider's; an
    # operator's host:port names that port only.
    assert TABLE.destination("api.openai.com", 8443).endpoint.provider == "openai"
    assert TABLE.destination("gateway.corp.example", 8443).endpoint.provider == "custom"
    assert TABLE.destination("gateway.corp.example", 443).endpoint is None


def test_every_host_a_request_names_must_agree_with_its_connection():
    anthropic = TABLE.destination("api.anthropic.com", 443)
    for agreeing in (["api.anthropic.com"], ["API.ANTHROPIC.COM.:443"], [], ["api.anthropic.com", "api.anthropic.com."]):
        assert TABLE.target(anthropic, agreeing, "https").refusal == "", agreeing
    for foreign in (["example.org"], ["api.openai.com"], ["api.anthropic.com", "example.org"], ["[broken"], ["a:b:c"]):
        target = TABLE.target(anthropic, foreign, "https")
        assert (target.endpoint.provider, target.status) == ("anthropic", 421) and target.refusal, foreign
        assert "example.org" not in target.refusal  # the request's own names are never repeated
    elsewhere = TABLE.target(TABLE.destination("198.51.100.7", 80), ["api.openai.com"], "http")
    assert elsewhere.endpoint.provider == "openai" and "names an AI API" in elsewhere.refusal
    smuggled = TABLE.target(TABLE.destination("akia2e0a8f3b244c8d.evil.example", 80), ["api.openai.com"], "http")
    assert smuggled.host == "api.openai.com" and "akia" not in smuggled.refusal  # the target's name is not audited
    unnamed = TABLE.target(TABLE.destination("198.51.100.7", 443), ["example.org"], "https")
    assert unnamed.unnamed and unnamed.status == 403 and unnamed.endpoint.provider == "unknown"
    assert TABLE.target(TABLE.destination("example.org", 443), ["example.org"], "https").endpoint is None


def client_hello(sni: str | None) -> tls.ClientHello:
    """A real ClientHello, as Python's TLS stack writes it."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    context = ssl.create_default_context()
    context.check_hostname = False
    tls_object = context.wrap_bio(incoming, outgoing, server_hostname=sni)
    with pytest.raises(ssl.SSLWantReadError):
        tls_object.do_handshake()
    hello = parse_client_hello(outgoing.read())
    assert hello is not None and hello.sni == sni
    return hello


def hello_to(gate: ConnectionGate, client: connection.Client, address: tuple[str, int], sni: str | None,
             options) -> bool:
    """Does the gate intercept this ClientHello (True) or hand it back as a tunnel (False)?"""
    context = Context(client, options)
    context.server = connection.Server(address=address)
    data = tls.ClientHelloData(context, client_hello(sni))
    gate.tls_clienthello(data)
    return not data.ignore_connection


def test_the_gate_intercepts_ai_connections_and_tunnels_the_rest(pipeline):
    gate = ConnectionGate(pipeline, TABLE)
    with taddons.context(gate) as tctx:
        client = tflow.tclient_conn()
        assert hello_to(gate, client, ("api.anthropic.com", 443), "api.anthropic.com", tctx.options)
        assert hello_to(gate, client, ("api.anthropic.com.", 443), None, tctx.options)
        assert hello_to(gate, client, ("160.79.104.10", 443), "api.anthropic.com", tctx.options)
        assert hello_to(gate, client, ("api.openai.com", 8443), "api.openai.com", tctx.options)
        assert not hello_to(gate, client, ("example.org", 443), "example.org", tctx.options)
        assert not hello_to(gate, client, ("160.79.104.10", 443), "example.org", tctx.options)
        # No name at all: the default policy blocks, so the connection is decrypted to refuse it.
        assert hello_to(gate, client, ("160.79.104.10", 443), None, tctx.options)


def test_the_tenant_at_connect_chooses_whether_an_unnamed_connection_is_tunnelled(tmp_path, secrets):
    from llm_dlp.keys import ValueHasher
    from llm_dlp.pipeline import Pipeline

    default = (copy_policies(tmp_path / "bundled") / "default.yaml").read_text()
    policies = copy_policies(tmp_path / "policies", default=default.replace("unknown_destination: block", "unknown_destination: tunnel"))
    gate = ConnectionGate(Pipeline(load_policy_dir(policies), [secrets], ValueHasher(b"k" * 32)), TABLE)
    with taddons.context(gate) as tctx:
        connect = tflow.tflow()
        connect.request = tutils.treq(method=b"CONNECT", host="160.79.104.10", port=443, path=b"", authority=b"160.79.104.10:443")
        gate.http_connect(connect)
        assert not hello_to(gate, connect.client_conn, ("160.79.104.10", 443), None, tctx.options)
        assert hello_to(gate, connect.client_conn, ("160.79.104.10", 443), "api.anthropic.com", tctx.options)
        gate.client_disconnected(connect.client_conn)
        assert hello_to(gate, connect.client_conn, ("160.79.104.10", 443), None, tctx.options)  # unknown: block


def through(addon: DlpAddon, flow: http.HTTPFlow) -> None:
    addon.requestheaders(flow)
    if flow.response is None:
        asyncio.run(addon.request(flow))


def test_an_http2_authority_that_disagrees_with_the_connection_is_refused(pipeline, audit):
    addon = DlpAddon(pipeline, TABLE, audit)
    body = chat(f"key {make.aws_access_key_id()}")
    request = tutils.treq(host="api.anthropic.com", port=443, scheme=b"https", method=b"POST", path=b"/v1/messages",
                          authority=b"example.org", http_version=b"HTTP/2.0",
                          headers=http.Headers(content_type="application/json"), content=body)
    flow = tflow.tflow(req=request)
    with taddons.context(addon):
        through(addon, flow)
    assert flow.response.status_code == 421 and json.loads(flow.response.content)["type"] == "error"  # Anthropic's shape
    [line] = audit_lines(Path(audit.target))
    assert (line["error"], line["host"], line["provider"]) == ("host disagrees with connection", "api.anthropic.com", "anthropic")


def test_plain_http_to_an_ai_host_is_scanned_like_https(pipeline, audit):
    addon = DlpAddon(pipeline, TABLE, audit)
    key_id = make.aws_access_key_id()
    # An absolute-form request: mitmproxy has put its target in host/port and cleared the authority.
    request = tutils.treq(host="api.openai.com", port=80, scheme=b"http", method=b"POST", path=b"/v1/chat/completions",
                          authority=b"", headers=http.Headers(host="api.openai.com", content_type="application/json"),
                          content=json.dumps({"model": "gpt", "messages": [{"role": "user", "content": f"key {key_id}"}]}).encode())
    flow = tflow.tflow(req=request)
    with taddons.context(addon):
        through(addon, flow)
    assert flow.response is None and key_id not in flow.request.get_text()
    assert flow.metadata[META].provider == "openai" and flow.metadata[TARGET].host == "api.openai.com"
    [line] = audit_lines(Path(audit.target))
    assert (line["decision"], line["provider"]) == ("redact", "openai")


def test_unknown_destination_is_block_by_default_inherited_and_checked(tmp_path):
    from llm_dlp.policy.schema import PolicyError

    policies = copy_policies(tmp_path / "ok", pilot="extends: default\n")
    assert load_policy_dir(policies).get("pilot").unknown_destination == "block"
    (policies / "default.yaml").write_text("unknown_destination: tunnel\n")
    assert load_policy_dir(policies).get("pilot").unknown_destination == "tunnel"
    (policies / "default.yaml").write_text("unknown_destination: sometimes\n")
    with pytest.raises(PolicyError, match=r"default\.yaml:1: unknown_destination"):
        load_policy_dir(policies)


def test_replay_holds_a_recorded_request_to_its_connection_as_the_proxy_did(pipeline):
    from llm_dlp.replay import replay

    def recorded(host_header: str) -> http.HTTPFlow:
        request = tutils.treq(host="api.anthropic.com", port=443, scheme=b"https", method=b"POST",
                              path=b"/v1/messages", authority=b"",
                              headers=http.Headers(host=host_header, content_type="application/json"),
                              content=chat(f"key {make.aws_access_key_id()}"))
        return tflow.tflow(req=request)

    report = replay([recorded("api.anthropic.com."), recorded("example.org")], pipeline, TABLE)
    assert [(entry.decision, entry.status) for entry in report.requests] == [("redact", None), ("error", 421)]
