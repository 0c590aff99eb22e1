"""Hot reload of the policy directory while the proxy runs.

A changed directory is loaded and validated off the event loop; only a policy set that loads
completely replaces the one in force. A broken edit is logged and ignored, so a typo never
leaves a thousand developers without a policy (or with half of one).

Option: ``llm_dlp_reload_interval`` (seconds between checks of the policy directories).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Callable

from mitmproxy import ctx, exceptions

from llm_dlp.pipeline import Pipeline
from llm_dlp.detection import DetectorCheckError
from llm_dlp.metrics import Metrics
from llm_dlp.policy.loader import PolicyError, PolicySet

log = logging.getLogger("llm_dlp")


def _stamp(directory: Path) -> tuple:
    try:
        return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in directory.iterdir()))
    except OSError:
        return ()


class PolicyReloader:
    def __init__(
        self,
        pipeline: Pipeline,
        directory: Path,
        load: Callable[[Path], PolicySet],
        shadow_directory: Path | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.directory = Path(directory)
        self.shadow_directory = Path(shadow_directory) if shadow_directory else None
        self.load_policies = load  # not "load": mitmproxy calls that as its own hook
        self.interval = 2.0
        self.metrics = metrics
        self._task: asyncio.Task | None = None

    def load(self, loader) -> None:
        loader.add_option(
            "llm_dlp_reload_interval", float, self.interval,
            "Seconds between checks of the policy directories for changes.",
        )

    def configure(self, updated: set[str]) -> None:
        if "llm_dlp_reload_interval" in updated:
            interval = ctx.options.llm_dlp_reload_interval
            if not interval > 0:
                raise exceptions.OptionsError(
                    f"llm_dlp_reload_interval {interval:g}: the policy directories must be checked every so "
                    "many seconds, more than 0"
                )
            self.interval = interval

    def running(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch())

    def done(self) -> None:
        if self._task:
            self._task.cancel()

    async def _watch(self) -> None:
        seen = _stamp(self.directory)
        seen_shadow = _stamp(self.shadow_directory) if self.shadow_directory else ()
        while True:
            await asyncio.sleep(self.interval)
            current = _stamp(self.directory)
            if current != seen:
                seen = current
                loaded = await self._load(self.directory)
                if loaded is not None:
                    self.pipeline.policies = loaded
            if self.shadow_directory:
                current = _stamp(self.shadow_directory)
                if current != seen_shadow:
                    seen_shadow = current
                    loaded = await self._load(self.shadow_directory)
                    if loaded is not None:
                        self.pipeline.shadow = loaded

    async def _load(self, directory: Path) -> PolicySet | None:
        loaded = await self._try_load(directory)
        if self.metrics is not None:
            self.metrics.policy_reloads.labels(result="rejected" if loaded is None else "loaded").inc()
        return loaded

    async def _try_load(self, directory: Path) -> PolicySet | None:
        try:
            loaded = await asyncio.to_thread(self.load_policies, directory)
        except (PolicyError, DetectorCheckError) as exc:  # e.g. the code index it needs went away
            log.error("policy reload rejected, previous policies stay in force: %s", exc)
            return None
        except Exception:  # noqa: BLE001 — a reload bug must not stop the proxy
            log.exception("policy reload failed, previous policies stay in force")
            return None
        log.warning("policies reloaded from %s (tenants: %s)", directory, ", ".join(sorted(loaded.policies)))
        return loaded
