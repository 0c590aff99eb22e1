"""The mitmproxy addons of llm-dlp, composed here: the proxy is mitmproxy plus this list.

Each addon is thin: flows in, calls into the core (``llm_dlp``), decisions back into flows. The
core never imports this package; ``addons.main`` starts mitmproxy with ``default_addons``.
"""

from __future__ import annotations

from addons.dlp import DlpAddon
from addons.identity import ProxyIdentity
from addons.reload import PolicyReloader
from llm_dlp.proxy import ProxyCore


def default_addons(core: ProxyCore) -> list:
    """In hook order: who the client is, then what to do with its request, then policy reloads."""
    return [
        ProxyIdentity(core.audit),
        DlpAddon(core.pipeline, core.endpoints, core.audit),
        PolicyReloader(core.pipeline, core.config.policy_dir, core.load_policies, core.config.shadow_policy_dir),
    ]


__all__ = ["DlpAddon", "PolicyReloader", "ProxyIdentity", "default_addons"]
