"""The llm-dlp mitmproxy addon: AI API requests in, core decisions back out as flows.

Thin on purpose: it decides which flows are ours, reads the request's facts out of the flow,
and asks the core (``llm_dlp.flows``, ``llm_dlp.request``, ``llm_dlp.pipeline``, ``llm_dlp.verdict``) what to do;
then it turns the answer into a forwarded, rewritten or answered flow, with an audit line each
time. mitmproxy forwards a request unchanged when a hook raises, so every hook here catches
everything and answers the client with an error instead.

Options: ``llm_dlp_vault`` and ``llm_dlp_vault_ttl`` (where placeholders' values are kept for
restoring answers).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from mitmproxy import ctx, exceptions, http

from llm_dlp import routing
from llm_dlp.audit.events import AuditEvent, ResponseEvent, RestoreEvent
from llm_dlp.audit.log import AuditLog, AuditWriteError
from llm_dlp.audit.target import audited_host, audited_path
from llm_dlp.endpoints import Endpoint, EndpointTable
from llm_dlp.flows import REQUEST_ID, TARGET, info_from_flow, target_of
from llm_dlp.pipeline import Pipeline
from llm_dlp.policy.model import Policy
from llm_dlp.providers import ApiFormat, ErrorAnswer, answer_with, format_for
from llm_dlp.request import RequestInfo, connection_verdict, header_verdict, passes_unscanned
from llm_dlp.restore import Restorer, RestoreSession
from llm_dlp.vault import DEFAULT_TTL_SECONDS, open_vault
from llm_dlp.verdict import Inspection, exception_summary, failure, internal_error, unaudited

log = logging.getLogger("llm_dlp")

META = "llm_dlp"  # flow.metadata key: the Endpoint of a flow we intercept
API = "llm_dlp_api"  # flow.metadata key: the ApiFormat of its request, looked up once per flow
RESTORE = "llm_dlp_restore"  # flow.metadata key: the RestoreSession of a forwarded request
RESTORING = "llm_dlp_restoring"  # flow.metadata key: the RestoreTable its answer is restored with
ANSWERED = "llm_dlp_answer_audited"  # flow.metadata key: the upstream answer (or error) is in the audit

VAULT_KINDS = ("file:", "redis://", "rediss://", "unix://")


class DlpAddon:
    def __init__(self, pipeline: Pipeline, endpoints: EndpointTable, audit: AuditLog) -> None:
        self.pipeline = pipeline
        self.endpoints = endpoints
        self.audit = audit
        self.restorer = Restorer.in_memory()
        self._vault = ("memory", float(DEFAULT_TTL_SECONDS))  # the (spec, ttl) self.restorer was opened with

    # -- options -------------------------------------------------------------------------------

    def load(self, loader) -> None:
        loader.add_option(
            "llm_dlp_vault", str, "memory",
            "Where the values behind placeholders are kept for restoring answers: memory, file:PATH, "
            "or redis://HOST:PORT/DB to share them between proxy instances.",
        )
        loader.add_option(
            "llm_dlp_vault_ttl", float, float(DEFAULT_TTL_SECONDS),
            "Seconds a redacted value stays restorable after its last use.",
        )

    def configure(self, updated: set[str]) -> None:
        if not {"llm_dlp_vault", "llm_dlp_vault_ttl"} & updated:
            return
        spec, ttl = ctx.options.llm_dlp_vault, ctx.options.llm_dlp_vault_ttl
        if (spec, ttl) == self._vault:
            return
        if spec != "memory" and not spec.startswith(VAULT_KINDS):
            raise exceptions.OptionsError(f"llm_dlp_vault {spec!r}: use memory, file:PATH or redis://HOST:PORT/DB")
        if ttl <= 0:
            raise exceptions.OptionsError(f"llm_dlp_vault_ttl {ttl:g}: a redacted value must stay restorable for more than 0 seconds")
        try:
            # Sealed under the deployment key, so proxies sharing certs/ share the vault.
            restorer = Restorer(open_vault(spec, self.pipeline.hasher.key, ttl))
        except Exception as exc:  # noqa: BLE001 — a vault that cannot open must stop start-up, in words
            raise exceptions.OptionsError(f"llm_dlp_vault {spec!r} cannot be opened: {exc}") from None
        self.restorer.close()
        self.restorer, self._vault = restorer, (spec, ttl)

    def done(self) -> None:
        self.restorer.close()

    # -- hooks ---------------------------------------------------------------------------------

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        # The endpoint is the connection's (CONNECT authority, SNI), never the Host header's.
        target = target_of(flow, self.endpoints)
        endpoint = target.endpoint
        if endpoint is None:
            return
        flow.metadata[TARGET] = target
        flow.metadata[META] = endpoint
        flow.metadata[API] = format_for(flow.request.path, endpoint.provider)
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
        except Exception as exc:  # noqa: BLE001 — the answer still goes through, with placeholders in it
            log.error("llm-dlp cannot restore placeholders for %s: %s", self._target(flow), exception_summary(exc))

    def response(self, flow: http.HTTPFlow) -> None:
        # Called once a streamed answer has gone through: account for what the client got back.
        self._audit_answer(flow)
        table = flow.metadata.get(RESTORING)
        if table is None or not (table.restored or table.kept_out):
            return
        session = flow.metadata[RESTORE]
        self._audit(RestoreEvent(
            request_id=flow.metadata.get(REQUEST_ID),
            tenant=session.tenant,
            host=flow.metadata[TARGET].host,  # the connection's, as on its decision line
            path=flow.request.path,
            restored=dict(table.restored),
            kept_out=dict(table.kept_out),
        ))

    def error(self, flow: http.HTTPFlow) -> None:
        # Upstream refused, reset or timed out: mitmproxy answers the client with a 502 itself.
        self._audit_answer(flow)

    def _audit_answer(self, flow: http.HTTPFlow) -> None:
        """The upstream status (or error) of a request we forwarded; ours were audited already."""
        session = flow.metadata.get(RESTORE)
        if session is None or flow.metadata.get(ANSWERED):
            return
        flow.metadata[ANSWERED] = True  # an error after a response (a broken stream) is one event
        info = info_from_flow(flow, flow.metadata[META])
        self._audit(ResponseEvent(
            request_id=info.request_id, tenant=session.tenant, user=info.user, host=info.host, path=info.path,
            status=flow.response.status_code if flow.response else None,
            error=flow.error.msg if flow.error else None,
            ms=_elapsed_ms(flow),
        ))

    def _audit(self, event: AuditEvent) -> None:
        try:
            self.audit.record_event(event)
        except AuditWriteError as exc:  # the answer has been delivered; nothing left to stop
            log.error("%s", exc)

    # -- from flow to core and back ------------------------------------------------------------

    def _check_headers(self, flow: http.HTTPFlow, endpoint: Endpoint) -> None:
        info = info_from_flow(flow, endpoint)
        policy = self.pipeline.policy_for(info)
        target = flow.metadata[TARGET]
        if passes_unscanned(target, policy):
            del flow.metadata[META], flow.metadata[TARGET]
            return
        verdict = connection_verdict(target, policy) or header_verdict(info, policy)
        if verdict is not None:
            self._apply(flow, endpoint, info, Inspection(verdict), policy)
            return
        # Prompt bodies must be complete before we scan them, whatever stream_large_bodies says;
        # and answers must come back uncompressed so later stages can read them.
        flow.request.stream = False
        flow.request.anticomp()

    async def _inspect(self, flow: http.HTTPFlow, endpoint: Endpoint) -> None:
        info = info_from_flow(flow, endpoint)
        policy = self.pipeline.policy_for(info)
        raw = flow.request.raw_content
        if raw is None:  # streamed past us: we never saw the body, so it must not go on
            raise RuntimeError("request body was streamed and cannot be inspected")
        try:
            # Scanning is CPU work: off the event loop, so one large prompt stalls no one else.
            inspection = await asyncio.wait_for(
                asyncio.to_thread(self.pipeline.inspect, info, raw, policy),
                timeout=policy.scan_timeout_seconds,
            )
        except TimeoutError:
            inspection = Inspection(failure(
                policy, 504, f"llm-dlp could not finish scanning within {policy.scan_timeout_seconds:g}s", "scan timeout"
            ))
        self._apply(flow, endpoint, info, inspection, policy)

    def _apply(self, flow: http.HTTPFlow, endpoint: Endpoint, info: RequestInfo, inspection: Inspection, policy: Policy) -> None:
        verdict = inspection.verdict
        if verdict.answers_client:  # the audit records the status the client is actually sent
            verdict = dataclasses.replace(verdict, status=_error_answer(flow, endpoint, verdict.status, verdict.message).status)
        try:
            forward = routing.forwarding_for(policy.destinations, verdict, flow.request.path)
        except routing.RouteError as exc:
            # Never fails open: forwarding unrerouted would send the data where the policy said not to.
            forward = None
            verdict = dataclasses.replace(verdict, decision="error", status=502, error=str(exc),
                                          message=f"llm-dlp cannot reroute this request: {exc}")
        try:
            self.audit.record(info, verdict)
        except AuditWriteError as exc:
            log.error("%s", exc)
            verdict = unaudited(verdict, policy, str(exc))
        if verdict.answers_client:
            self._answer(flow, endpoint, verdict.status, verdict.message)
            return
        if inspection.body is not None:
            flow.request.content = inspection.body  # re-encodes with the request's content-encoding
        flow.metadata[RESTORE] = self.restorer.session(policy, info, inspection.redactions, _api(flow, endpoint))
        if forward is not None:
            _reroute(flow, forward)

    async def _restore(self, flow: http.HTTPFlow, session: RestoreSession) -> None:
        response = flow.response
        if response.headers.get("content-encoding", "identity").lower() != "identity":
            log.warning("llm-dlp: %s answered with content-encoding %s; placeholders are not restored",
                        self._target(flow), response.headers["content-encoding"])
            return
        raw = flow.request.raw_content or b""
        if not session.redacted and "content-encoding" not in flow.request.headers and b"[[" not in raw:
            # Nothing redacted, now or before (no placeholder in the body): answered without the
            # vault, so without a hop to a thread and back.
            table = self.restorer.table(session, raw)
        else:  # decoding the request body and the vault (disk, network) are blocking
            table = await asyncio.to_thread(lambda: self.restorer.table(session, flow.request.get_content(strict=False) or b""))
        rewriter = session.api.answer_rewriter(response.headers.get("content-type", ""), table) if session.api else None
        if rewriter is None:
            return
        if "content-length" in response.headers:  # restored values change the length
            del response.headers["content-length"]
            response.headers["transfer-encoding"] = "chunked"
        response.stream = rewriter
        flow.metadata[RESTORING] = table

    def _fail(self, flow: http.HTTPFlow, endpoint: Endpoint, exc: Exception) -> None:
        log.error("llm-dlp failed on %s %s: %s", flow.request.method, self._target(flow), exception_summary(exc))
        verdict = internal_error(exception_summary(exc))
        self._answer(flow, endpoint, verdict.status, verdict.message)
        try:
            self.audit.record(info_from_flow(flow, endpoint), verdict)
        except Exception as exc:  # noqa: BLE001 — the block above already stands
            log.error("llm-dlp could not audit a failed request: %s", exception_summary(exc))

    def _target(self, flow: http.HTTPFlow) -> str:
        # The proxy's own log is read by more people than the audit: the same masked path.
        hasher = self.pipeline.hasher
        return audited_host(flow.request.pretty_host, hasher) + audited_path(flow.request.path, hasher)

    @staticmethod
    def _answer(flow: http.HTTPFlow, endpoint: Endpoint, status: int, message: str) -> None:
        answer = _error_answer(flow, endpoint, status, message)
        flow.response = http.Response.make(answer.status, answer.body, answer.headers)


def _error_answer(flow: http.HTTPFlow, endpoint: Endpoint, status: int, message: str) -> ErrorAnswer:
    """The provider's own error shape, with the status its clients show without retrying."""
    return answer_with(_api(flow, endpoint), status, message, method=flow.request.method)


def _api(flow: http.HTTPFlow, endpoint: Endpoint) -> ApiFormat:
    api = flow.metadata.get(API)
    if api is None:  # a flow whose request headers we did not see (an addon error before them)
        api = flow.metadata[API] = format_for(flow.request.path, endpoint.provider)
    return api


def _elapsed_ms(flow: http.HTTPFlow) -> float | None:
    end = (flow.response.timestamp_end if flow.response else None) or (flow.error.timestamp if flow.error else None)
    start = flow.request.timestamp_start
    return round((end - start) * 1000, 1) if end and start else None


def _reroute(flow: http.HTTPFlow, forward: routing.Forwarding) -> None:
    """Send the request to the reroute target, with the company's key instead of the client's."""
    flow.request.scheme = forward.scheme
    flow.request.host = forward.host
    flow.request.port = forward.port
    flow.request.host_header = forward.host_header
    flow.request.path = forward.path
    for name in forward.drop_headers:
        flow.request.headers.pop(name, None)
    for name, value in forward.set_headers:
        flow.request.headers[name] = value
