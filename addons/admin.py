"""The admin listener as an addon: ``/metrics``, ``/healthz`` and ``/readyz`` beside the proxy.

Option ``llm_dlp_admin_listen`` (``HOST:PORT``; empty, the default, opens nothing). The port is
bound when the option is set, so a port in use stops start-up with a message instead of leaving
a proxy nobody can probe. What is served and checked is the core's (``llm_dlp.admin``); this
addon only owns the listener's lifetime and asks the DLP addon for its vault.
"""

from __future__ import annotations

from mitmproxy import ctx, exceptions

from addons.dlp import DlpAddon
from llm_dlp.admin import AdminApp, AdminServer, parse_listen
from llm_dlp.proxy import ProxyCore

PROBE_KEY = "llm-dlp:ready"  # read, never written: a round trip to the vault's store
VAULT_PREFIX = "llm-dlp:vault:"  # every vault entry's key starts so (llm_dlp.vault); a shared Redis holds other keys too


class AdminListener:
    def __init__(self, core: ProxyCore, dlp: DlpAddon) -> None:
        self.core = core
        self.dlp = dlp
        self.server: AdminServer | None = None
        self._spec = ""
        # The restorer's store is read at each count: a changed llm_dlp_vault option swaps it.
        core.metrics.watch_vault(lambda: self.dlp.restorer.vault.store.count(VAULT_PREFIX))

    def load(self, loader) -> None:
        loader.add_option(
            "llm_dlp_admin_listen", str, "",
            "HOST:PORT serving /metrics (Prometheus), /healthz and /readyz; empty: no admin listener.",
        )

    def configure(self, updated: set[str]) -> None:
        if "llm_dlp_admin_listen" not in updated or ctx.options.llm_dlp_admin_listen == self._spec:
            return
        spec = ctx.options.llm_dlp_admin_listen
        server = None
        if spec:
            try:
                host, port = parse_listen(spec)
                app = AdminApp(self.core.metrics, self.core.readiness_checks(self._vault_reachable))
                server = AdminServer(host, port, app)
            except (ValueError, OSError) as exc:
                raise exceptions.OptionsError(f"llm_dlp_admin_listen {exc}") from None
            server.start()
        self._stop()
        self.server, self._spec = server, spec

    def done(self) -> None:
        self._stop()

    def _stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def _vault_reachable(self) -> str | None:
        # The store behind the restorer the DLP addon opened (memory, SQLite or Redis).
        self.dlp.restorer.vault.store.get_many([PROBE_KEY])
        return None
