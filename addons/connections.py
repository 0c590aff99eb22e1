"""Which client connections are TLS-intercepted, decided from where they go and their SNI.

mitmproxy would decrypt every TLS connection (no ``allow_hosts`` is set); this addon hands back
as a blind tunnel every one that the endpoint table (``llm_dlp.endpoints``) says is not an AI
API, at its ClientHello, before a byte is decrypted. The same table then holds each request
inside to that decision (``llm_dlp.flows.target_of``), so one rule decides both.

A connection to a bare address whose ClientHello names no host (``unnamed``) could be an AI API
reached by its address: the tenant's ``unknown_destination`` policy tunnels it, or intercepts it
so that the DLP addon refuses (and audits) each request on it. The tenant is known at CONNECT,
the SNI only at the ClientHello, so the policy's choice is kept per client connection between
the two.

mitmproxy passes a tunnel raw when its first bytes are too few to look like TLS; to an AI API
that would be an unscanned tunnel for any client that sends its ClientHello one byte first, so
the decision there waits for more bytes.
"""

from __future__ import annotations

from mitmproxy import connection, http, tls
from mitmproxy.proxy import layer, layers
from mitmproxy.proxy.layers.http import HTTPMode

from llm_dlp.endpoints import UNKNOWN_PROVIDER, Endpoint, EndpointTable, is_address
from llm_dlp.flows import info_from_flow
from llm_dlp.pipeline import Pipeline


class ConnectionGate:
    def __init__(self, pipeline: Pipeline, endpoints: EndpointTable) -> None:
        self.pipeline = pipeline
        self.endpoints = endpoints
        self._unknown_destination: dict[str, str] = {}  # client connection id -> its tenant's setting

    def http_connect(self, flow: http.HTTPFlow) -> None:
        # ProxyIdentity has run: the CONNECT flow carries who the client is.
        if flow.response is None and is_address(flow.request.host):
            endpoint = Endpoint(flow.request.host, UNKNOWN_PROVIDER, flow.request.port)
            policy = self.pipeline.policy_for(info_from_flow(flow, endpoint))
            self._unknown_destination[flow.client_conn.id] = policy.unknown_destination

    def next_layer(self, nextlayer: layer.NextLayer) -> None:
        # mitmproxy's own next_layer has chosen what follows a CONNECT; TLS is left to
        # tls_clienthello. Plain bytes to a named host that is no AI API: a blind tunnel, as its
        # TLS would be, not HTTP parsed (and TCP recorded) by mitmproxy.
        chosen, context = nextlayer.layer, nextlayer.context
        address = context.server.address
        in_tunnel = isinstance(chosen, layers.TCPLayer) or (
            isinstance(chosen, layers.HttpLayer) and chosen.mode is HTTPMode.transparent)
        if address is None or not in_tunnel or context.client.tls:
            return
        destination = self.endpoints.destination(address[0], address[1])
        if destination.endpoint is None and not destination.unnamed:
            nextlayer.layer = layers.TCPLayer(context, ignore=True)
        elif isinstance(chosen, layers.TCPLayer) and not (
                destination.unnamed and self._unknown_destination.get(context.client.id) == "tunnel"):
            # mitmproxy takes a client whose first bytes are fewer than three for one that does not
            # speak TLS, and would pass it raw: a ClientHello sent one byte first would reach the AI
            # API unscanned. Wait for more; bytes that are neither TLS nor HTTP get HTTP's error.
            short = len(nextlayer.data_client()) < 3
            nextlayer.layer = None if short else layers.HttpLayer(context, HTTPMode.transparent)

    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        address = data.context.server.address
        if address is None:  # TLS to the proxy itself: nothing to tunnel to
            return
        destination = self.endpoints.destination(address[0], address[1], data.client_hello.sni)
        if destination.endpoint is not None:
            return
        if destination.unnamed and self._unknown_destination.get(data.context.client.id, "block") == "block":
            return  # decrypted only to refuse each request in the provider's words, audited
        data.ignore_connection = True

    def client_disconnected(self, client: connection.Client) -> None:
        self._unknown_destination.pop(client.id, None)
