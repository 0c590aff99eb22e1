"""The mitmproxy addons of llm-dlp, composed here: the proxy is mitmproxy plus this list.

Each addon is thin: flows in, calls into the core (``llm_dlp``), decisions back into flows. The
core never imports this package; ``addons.main`` starts mitmproxy with ``default_addons``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llm_dlp.proxy import ProxyCore


def default_addons(core: ProxyCore) -> list:
    """In hook order: who the client is, which of its connections are intercepted, then what to
    do with its request, then policy reloads; last the admin listener (metrics and health), which
    reads the others."""
    # Imported here, not at the top: ``addons.main`` is the program's entry point, so this
    # package is imported by every command, and ``llm-dlp scan`` has no use for mitmproxy.
    from addons.admin import AdminListener
    from addons.connections import ConnectionGate
    from addons.dlp import DlpAddon
    from addons.identity import ProxyIdentity
    from addons.reload import PolicyReloader

    dlp = DlpAddon(core.pipeline, core.endpoints, core.audit)
    return [
        ProxyIdentity(core.audit),
        ConnectionGate(core.pipeline, core.endpoints),
        dlp,
        PolicyReloader(core.pipeline, core.config.policy_dir, core.load_policies, core.config.shadow_policy_dir,
                       metrics=core.metrics),
        AdminListener(core, dlp),
    ]


__all__ = ["default_addons"]
