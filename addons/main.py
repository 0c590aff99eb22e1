"""The ``llm-dlp`` program: the core's command line, with the proxy it starts.

``llm_dlp.cli`` parses ``llm-dlp run`` into a ``ProxyConfig`` but never imports the addons (the
core points one way); this module, one layer up, hands it ``serve``: build the core parts, start
mitmproxy with ``default_addons``, turn the configuration into mitmproxy options.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from detectors.collector import collector_paused
from llm_dlp import cli

if TYPE_CHECKING:
    from llm_dlp.proxy import ProxyConfig, ProxyCore


def main(argv: list[str] | None = None) -> int:
    return cli.main(argv, serve=serve)


def serve(config: ProxyConfig) -> None:
    """Run the proxy until SIGINT or SIGTERM; raise ``StartupError`` for a configuration it refuses."""
    import asyncio

    with collector_paused():
        # Everything the proxy imports, loaded with the collector paused (see
        # detectors.collector); ``build_core`` forks the scan workers, so it runs with it on.
        import mitmproxy.tools.dump  # noqa: F401

        import addons  # noqa: F401
        import detectors.code  # noqa: F401  (the packages build_detectors builds from)
        import detectors.pii  # noqa: F401
        import detectors.secrets  # noqa: F401
        from llm_dlp.proxy import build_core
    core = build_core(config)
    try:
        asyncio.run(_run(core))
    finally:
        core.close()


async def _run(core: ProxyCore) -> None:
    # mitmproxy only for ``run``: every other command (``scan`` above all) starts without it.
    import asyncio
    import signal

    from mitmproxy import exceptions, options
    from mitmproxy.tools.dump import DumpMaster

    from addons import default_addons
    from llm_dlp.proxy import StartupError

    config = core.config
    master = DumpMaster(options.Options(), with_termlog=True, with_dumper=False)
    master.addons.add(*default_addons(core))
    try:
        master.options.update(
            **core.mitmproxy_options(),
            llm_dlp_users_file=str(config.users_file) if config.users_file else None,
            llm_dlp_unauthenticated="reject" if config.require_auth else "default",
            llm_dlp_reload_interval=config.reload_interval,
            llm_dlp_vault=config.vault,
            llm_dlp_vault_ttl=config.vault_ttl_seconds,
            llm_dlp_admin_listen=config.admin_listen or "",
        )
        for name, value in config.mitm_options:
            master.options.set(f"{name}={value}")
    except exceptions.OptionsError as exc:
        raise StartupError(str(exc)) from None
    print(core.banner(), flush=True)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, master.shutdown)
    await master.run()


if __name__ == "__main__":
    sys.exit(main())
