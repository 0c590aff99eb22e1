"""The llm-dlp mitmproxy addon: AI API requests in, core decisions back out as flows.

Thin on purpose: it decides which flows are ours, hands the body to ``llm_dlp.pipeline`` off the
event loop, and turns the verdict into a forwarded, rewritten or answered flow, with an audit
line each time. mitmproxy forwards a request unchanged when a hook raises, so every hook here
catches everything and answers the client with an error instead.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from mitmproxy import http

from addons.identity import META as IDENTITY
from llm_dlp.audit.log import RESTORE_EVENT, AuditLog, AuditWriteError
from llm_dlp.endpoints import Endpoint, EndpointTable
from llm_dlp.pipeline import Pipeline, RequestInfo, Verdict
from llm_dlp.policy.model import Policy
from llm_dlp.providers import adapter_for, error_response
from llm_dlp.restore import Restorer, RestoreSession, rewriter_for

log = logging.getLogger("llm_dlp")

META = "llm_dlp"  # flow.metadata key: the Endpoint of a flow we intercept
RESTORE = "llm_dlp_restore"  # flow.metadata key: the RestoreSession of a forwarded request
RESTORING = "llm_dlp_restoring"  # flow.metadata key: the RestoreTable its answer is restored with


class DlpAddon:
    def __init__(
        self, pipeline: Pipeline, endpoints: EndpointTable, audit: AuditLog, restorer: Restorer | None = None
    ) -> None:
        self.pipeline = pipeline
        self.endpoints = endpoints
        self.audit = audit
        self.restorer = restorer or Restorer.in_memory()

    # -- hooks -------------------------------------------------------------------------------

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        endpoint = self.endpoints.lookup(flow.request.pretty_host, flow.request.port)
        if endpoint is None:
            return
        flow.metadata[META] = endpoint
        try:
            self._check_headers(flow, endpoint)
        except Exception as exc:  # noqa: BLE001
            self._fail(flow, endpoint, exc)

    async def request(self, flow: http.HTTPFlow) -> None:
        endpoint = flow.metadata.get(META)
        if endpoint is None or flow.response is not None:
            return
        try:
            await self._inspect(flow, endpoint)
        except Exception as exc:  # noqa: BLE001
            self._fail(flow, endpoint, exc)

    async def _inspect(self, flow: http.HTTPFlow, endpoint: Endpoint) -> None:
        info = self._info(flow, endpoint)
        policy = self.pipeline.policy_for(info)
        raw = flow.request.raw_content
        if raw is None:  # streamed past us: we never saw the body, so it must not go on
            raise RuntimeError("request body was streamed and cannot be inspected")
        try:
            # Scanning is CPU work: off the event loop, so one large prompt stalls no one else.
            verdict = await asyncio.wait_for(
                asyncio.to_thread(self.pipeline.inspect, info, raw, policy),
                timeout=policy.scan_timeout_seconds,
            )
        except TimeoutError:
            verdict = self.pipeline.failure(
                policy, 504, f"llm-dlp could not finish scanning within {policy.scan_timeout_seconds:g}s", "scan timeout"
            )
        self._apply(flow, endpoint, info, verdict, policy)

    async def responseheaders(self, flow: http.HTTPFlow) -> None:
        # Answers on AI hosts are streamed: mitmproxy's default buffering would hold back every
        # token until the answer is complete. Where the request was ours, the stream restores
        # placeholders on the way through.
        if not flow.metadata.get(META) or flow.response is None:
            return
        flow.response.stream = True
        session = flow.metadata.get(RESTORE)
        if session is None or not 200 <= flow.response.status_code < 300:
            return
        try:
            await self._restore(flow, session)
        except Exception:  # noqa: BLE001 — the answer still goes through, with placeholders in it
            log.exception("llm-dlp cannot restore placeholders for %s", flow.request.pretty_url)

    async def _restore(self, flow: http.HTTPFlow, session: RestoreSession) -> None:
        response = flow.response
        if response.headers.get("content-encoding", "identity").lower() != "identity":
            log.warning("llm-dlp: %s answered with content-encoding %s; placeholders are not restored",
                        flow.request.pretty_host, response.headers["content-encoding"])
            return
        # Decoding the request body and the vault (disk, network) are blocking: off the event loop.
        table = await asyncio.to_thread(lambda: self.restorer.table(session, flow.request.get_content(strict=False) or b""))
        rewriter = rewriter_for(adapter_for(flow.request.path).format, response.headers.get("content-type", ""), table)
        if rewriter is None:
            return
        if "content-length" in response.headers:  # restored values change the length
            del response.headers["content-length"]
            response.headers["transfer-encoding"] = "chunked"
        response.stream = rewriter
        flow.metadata[RESTORING] = table

    def response(self, flow: http.HTTPFlow) -> None:
        # Called once a streamed answer has gone through: account for what the client got back.
        table = flow.metadata.get(RESTORING)
        if table is None or not (table.restored or table.withheld):
            return
        session = flow.metadata[RESTORE]
        try:
            self.audit.write(
                RESTORE_EVENT,
                request_id=flow.metadata.get("llm_dlp_request_id"),
                tenant=session.tenant,
                host=flow.request.pretty_host,
                path=flow.request.path,
                restored=dict(table.restored),
                withheld=dict(table.withheld),
            )
        except AuditWriteError as exc:  # the answer has been delivered; nothing left to stop
            log.error("%s", exc)

    # -- helpers -------------------------------------------------------------------------------

    def _check_headers(self, flow: http.HTTPFlow, endpoint: Endpoint) -> None:
        info = self._info(flow, endpoint)
        policy = self.pipeline.policy_for(info)
        verdict = header_verdict(self.pipeline, flow, policy)
        if verdict is not None:
            self._apply(flow, endpoint, info, verdict, policy)
            return
        # Prompt bodies must be complete before we scan them, whatever stream_large_bodies says;
        # and answers must come back uncompressed so later stages can read them.
        flow.request.stream = False
        flow.request.anticomp()

    def _apply(self, flow: http.HTTPFlow, endpoint: Endpoint, info: RequestInfo, verdict: Verdict, policy: Policy) -> None:
        try:
            self.audit.record(info, verdict)
        except AuditWriteError as exc:
            log.error("%s", exc)
            if not policy.fails_open:
                verdict = Verdict("error", verdict.tenant, status=500, message="llm-dlp cannot write its audit log", error=str(exc))
        if verdict.answers_client:
            self._answer(flow, endpoint, verdict.status, verdict.message)
            return
        if verdict.body is not None:
            flow.request.content = verdict.body  # re-encodes with the request's content-encoding
        flow.metadata[RESTORE] = self.restorer.session(verdict, policy)
        if verdict.reroute:
            _reroute(flow, verdict.reroute)

    def _fail(self, flow: http.HTTPFlow, endpoint: Endpoint, exc: Exception) -> None:
        log.exception("llm-dlp failed on %s %s", flow.request.method, flow.request.pretty_url)
        self._answer(flow, endpoint, 500, "llm-dlp could not inspect this request (internal error)")
        try:
            info = self._info(flow, endpoint)
            self.audit.record(info, Verdict("error", "unknown", status=500, error=repr(exc)))
        except Exception:  # noqa: BLE001 — the block above already stands
            log.exception("llm-dlp could not audit a failed request")

    def _answer(self, flow: http.HTTPFlow, endpoint: Endpoint, status: int, message: str) -> None:
        answer = error_response(endpoint.provider, flow.request.path, status, message, method=flow.request.method)
        flow.response = http.Response.make(answer.status, answer.body, answer.headers)

    @staticmethod
    def _info(flow: http.HTTPFlow, endpoint: Endpoint) -> RequestInfo:
        return request_info(flow, endpoint)


def request_info(flow: http.HTTPFlow, endpoint: Endpoint) -> RequestInfo:
    """The facts the pipeline and the audit log need, from a live or recorded flow."""
    # Our users file (addons/identity.py) knows groups; mitmproxy's own proxyauth (htpasswd,
    # LDAP) knows only the user name.
    identity = flow.metadata.get(IDENTITY)
    auth = (identity.user,) if identity else flow.metadata.get("proxyauth")
    authorization = flow.request.headers.get("authorization", "")
    return RequestInfo(
        request_id=flow.metadata.setdefault("llm_dlp_request_id", uuid.uuid4().hex),
        method=flow.request.method,
        host=flow.request.pretty_host,
        path=flow.request.path,
        provider=endpoint.provider,
        client_address=flow.client_conn.peername[0] if flow.client_conn.peername else None,
        user=auth[0] if auth else None,
        groups=identity.groups if identity else (),
        content_encoding=flow.request.headers.get("content-encoding", ""),
        content_type=flow.request.headers.get("content-type", ""),
        body_signed=authorization.startswith("AWS4-HMAC-SHA256"),
    )


def header_verdict(pipeline: Pipeline, flow: http.HTTPFlow, policy: Policy) -> Verdict | None:
    """A decision that needs only the request headers (refused upgrades, oversized bodies)."""
    if flow.request.headers.get("upgrade", "").lower() == "websocket":
        return pipeline.failure(
            policy, 403, "llm-dlp does not inspect WebSocket traffic to AI APIs; use HTTPS requests", "websocket refused"
        )
    length = flow.request.headers.get("content-length", "")
    if length.isdigit() and int(length) > policy.max_body_bytes:
        verdict = Verdict(
            "error", policy.name, status=413, policy_mode=policy.mode, error="body too large",
            message=f"request body of {length} bytes is over llm-dlp's limit of {policy.max_body_bytes}",
        )
        verdict.body_bytes = int(length)
        return verdict
    return None


def _reroute(flow: http.HTTPFlow, target: str) -> None:
    """Send the request to ``scheme://host[:port]`` (a self-hosted endpoint), path unchanged."""
    scheme, _, rest = target.partition("://")
    host, _, port = rest.partition(":")
    flow.request.scheme = scheme
    flow.request.host = host
    flow.request.port = int(port) if port else (443 if scheme == "https" else 80)
    flow.request.host_header = rest
