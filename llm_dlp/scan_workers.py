"""Running the detectors on a request's segments: from the findings cache, in this process, or in
worker processes so detection uses every core and leaves the proxy's event loop and the GIL.

Workers are forked after the detectors are built, so the compiled rules, the PII engine and the
language model are shared copy-on-write rather than built again in each. Only the segments the
cache does not know travel to the workers (text and path hint); findings (offsets, never values)
come back. A worker that dies or a scan that does not finish raises here, and the pipeline turns
that into a failure verdict: the request fails closed.

Why a process pool rather than several proxies on one port (SO_REUSEPORT): detection is ~98% of
the proxy's CPU on agent traffic (6.7 s vs 0.14 s for mitmdump's own work over a 30-turn session),
and the state that must stay single per deployment lives in the proxy process: the audit log's
hash chain, the values already redacted per tenant, the in-memory restore vault and the findings
cache. Several proxies would each hold their own copy of all of that.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import Collection, Mapping, Sequence

from detectors.base import Detector, Finding
from llm_dlp.providers import Segment
from llm_dlp.scan_cache import FindingsCache

log = logging.getLogger("llm_dlp")

DEFAULT_TIMEOUT_SECONDS = 120.0
# Only a request with this many characters of uncached text (a resumed session's first turn) is
# split across workers. Smaller ones go whole to one worker: the pool is first come, first
# served, so a request split over every worker would make every request behind it wait.
_SPLIT_CHARS = 256_000

Job = tuple[str, "str | None", tuple[str, ...]]  # a text, its path hint, the detectors (ids) to run
# The path hint a seam window is cached under: no segment has it, so a window's entry (secrets
# only) never answers for a segment with the same text (every detector), nor the other way.
_SEAM_HINT = "\x00seam"
# Findings per detector id: what a cache entry holds and a worker sends back.
PerDetector = Mapping[str, Sequence[Finding]]


class ScanWorkerError(RuntimeError):
    """A worker died or did not answer in time; the request it was scanning fails closed."""

    quotes_request = False  # its words are the proxy's own: the audit may record them (verdict.exception_summary)


class Detection:
    """The detectors over one text, passing the path hint to detectors that accept it.

    Each detector has an id (its name; with a suffix where two share one), under which its
    findings are kept apart, so the cache can hold what each detector found and a request that
    needs fewer detectors than the last one (or more) reuses what is there and scans the rest.
    """

    def __init__(self, detectors: Sequence[Detector]) -> None:
        self.detectors = tuple(detectors)
        self._hinted = tuple(d.takes_path_hint for d in self.detectors)  # declared, see detectors/base.py
        names = [d.name for d in self.detectors]
        self.ids = tuple(name if names.count(name) == 1 else f"{name}#{i}" for i, name in enumerate(names))

    def ids_for(self, kinds: Collection[str] | None) -> tuple[str, ...]:
        """The detectors that report one of ``kinds`` (None: every kind); a detector that declares
        no kinds always runs."""
        if kinds is None:
            return self.ids
        return tuple(id_ for id_, detector in zip(self.ids, self.detectors)
                     if not getattr(detector, "kinds", ()) or any(k.name in kinds for k in detector.kinds))

    def run(self, text: str, path_hint: str | None, ids: Collection[str] | None = None) -> list[Finding]:
        """Every finding of the detectors ``ids`` (None: all), in the detectors' order."""
        return [f for found in self.run_each(text, path_hint, self.ids if ids is None else ids).values() for f in found]

    def run_each(self, text: str, path_hint: str | None, ids: Collection[str]) -> dict[str, list[Finding]]:
        found: dict[str, list[Finding]] = {}
        for id_, detector, hinted in zip(self.ids, self.detectors, self._hinted):
            if id_ not in ids:
                continue
            if hinted and path_hint is not None:
                found[id_] = detector.scan(text, path_hint=path_hint)  # type: ignore[call-arg]
            else:
                found[id_] = detector.scan(text)
        return found

    def run_all(self, jobs: Sequence[Job]) -> list[dict[str, list[Finding]]]:
        return [self.run_each(text, hint, ids) for text, hint, ids in jobs]


class SegmentScanner:
    """Findings for each segment of a request, each segment scanned at most once per version by
    each detector."""

    def __init__(self, detectors: Sequence[Detector], cache: FindingsCache | None = None, workers: int = 0,
                 timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.detection = Detection(detectors)
        # Seam windows (``llm_dlp.seams``) are scanned for credentials split across segments.
        self.seam_detection = Detection([d for d in detectors if d.name == "secrets"])
        self.seam_generic_rules = frozenset(
            rule.id for d in self.seam_detection.detectors for rule in getattr(d, "rules", ()) if rule.generic)
        self.cache = cache
        self.workers = workers
        self.timeout_seconds = timeout_seconds
        self._pool_lock = threading.Lock()
        self._pool = self._fork_pool() if workers > 0 else None

    def find(self, segments: Sequence[Segment], kinds: Collection[str] | None = None) -> list[list[Finding]]:
        """Findings per segment of the detectors that report one of ``kinds`` (None: all)."""
        ids = self.detection.ids_for(kinds)
        return self._find([(segment.text, segment.path_hint) for segment in segments], ids, seams=False)

    def seams_needed(self, kinds: Collection[str] | None) -> bool:
        """Whether the seam scan (secrets) can find anything of ``kinds``."""
        return bool(self.seam_detection.ids_for(kinds))

    def find_in_seams(self, texts: Sequence[str]) -> list[list[Finding]]:
        """Secrets-detector findings for each seam window, cached like segments."""
        if not self.seam_detection.detectors:
            return [[] for _ in texts]
        return self._find([(text, _SEAM_HINT) for text in texts], self.seam_detection.ids, seams=True)

    def _find(self, texts: list[tuple[str, str | None]], ids: tuple[str, ...], seams: bool) -> list[list[Finding]]:
        # An agent request repeats many texts (object keys such as ``type`` or ``description``,
        # tool names, enum values: a fifth to a half of its segments): each distinct (text, path
        # hint) is looked up and scanned once. Detectors are pure functions of exactly those two,
        # so every segment holding the text gets the same findings (offsets into the text, never
        # into the body); each gets its own list, as the pipeline extends it per segment.
        distinct: dict[tuple[str, str | None], int] = {}
        slots = [distinct.setdefault(text, len(distinct)) for text in texts]
        entries = self._entries(list(distinct), ids, seams)
        found = [[f for id_ in ids for f in entry[id_]] for entry in entries]
        return [list(found[slot]) for slot in slots]

    def _entries(self, texts: list[tuple[str, str | None]], ids: tuple[str, ...], seams: bool) -> list[PerDetector]:
        """Per distinct text, the findings of at least the detectors ``ids``: from the cache where
        it has them, the missing detectors scanned (and their findings added to the entry)."""
        entries: list[PerDetector | None] = [None] * len(texts)
        keys: list[str] = []
        if self.cache is not None:
            version = self.cache.version()
            keys = [self.cache.key(version, text, hint) for text, hint in texts]
            # one round trip to a shared store for the whole request, not one per text
            entries = list(self.cache.get_many(keys, [len(text) for text, _ in texts]))
        lacking = [(i, tuple(id_ for id_ in ids if entry is None or id_ not in entry)) for i, entry in enumerate(entries)]
        lacking = [(i, missing) for i, missing in lacking if missing]
        scanned = self._scan([(*texts[i], missing) for i, missing in lacking], seams)
        for (i, _), found in zip(lacking, scanned):
            entries[i] = {**(entries[i] or {}), **found}
        if self.cache is not None and lacking:
            self.cache.put_many([(keys[i], entries[i]) for i, _ in lacking])  # type: ignore[misc]
        return entries  # type: ignore[return-value]

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None

    def _scan(self, jobs: list[Job], seams: bool = False) -> list[dict[str, list[Finding]]]:
        if not jobs:
            return []
        if seams:
            jobs = [(text, None, ids) for text, _, ids in jobs]
        if self._pool is None:
            return (self.seam_detection if seams else self.detection).run_all(jobs)
        pool = self._pool
        batches = _batches(jobs, self.workers)
        results: list[dict[str, list[Finding]]] = [{} for _ in jobs]
        try:
            futures = [pool.submit(_run_in_worker, [jobs[i] for i in batch], seams) for batch in batches]
            for batch, future in zip(batches, futures):
                for i, found in zip(batch, future.result(timeout=self.timeout_seconds)):
                    results[i] = found
        except BrokenProcessPool as exc:
            self._replace(pool)
            raise ScanWorkerError("a detector worker process died while scanning this request") from exc
        except FutureTimeout as exc:
            raise ScanWorkerError(f"detector workers did not finish within {self.timeout_seconds:g}s") from exc
        return results

    def _fork_pool(self) -> ProcessPoolExecutor:
        # Objects built so far move to the permanent generation, so the collector in a worker does
        # not write to (and so copy) every page the detectors live in.
        gc.freeze()
        pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("fork"),
                                   initializer=_adopt, initargs=(self.detection, self.seam_detection))
        # With fork every worker starts on the first submit: start them now, at start-up, before
        # the proxy starts any thread. A pool replaced later forks a threaded process; its workers
        # run only detector code, and should one wait on a lock another thread held at the fork,
        # its scans time out and fail closed rather than pass.
        pool.submit(os.getpid).result()
        return pool

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._pool_lock:
            if self._pool is broken:
                log.error("llm-dlp: a detector worker died; starting a new pool of %d", self.workers)
                broken.shutdown(wait=False, cancel_futures=True)
                self._pool = self._fork_pool()


# The detections a forked worker inherited from its parent (every detector; the seam scan's);
# set once by the pool's initializer in the worker only, never in the proxy process.
_worker_detection: tuple[Detection, Detection] | None = None


def _adopt(detection: Detection, seam_detection: Detection) -> None:
    global _worker_detection
    _worker_detection = (detection, seam_detection)


def _run_in_worker(jobs: list[Job], seams: bool = False) -> list[dict[str, list[Finding]]]:
    assert _worker_detection is not None, "not a detector worker"
    return _worker_detection[1 if seams else 0].run_all(jobs)


def _batches(jobs: list[Job], workers: int) -> list[list[int]]:
    """Positions of ``jobs`` split across workers by size, largest first into the lightest batch."""
    total = sum(len(job[0]) for job in jobs)
    count = 1 if total < _SPLIT_CHARS else min(workers, len(jobs))
    if count == 1:
        return [list(range(len(jobs)))]
    batches: list[list[int]] = [[] for _ in range(count)]
    loads = [0] * count
    for index in sorted(range(len(jobs)), key=lambda i: -len(jobs[i][0])):
        lightest = loads.index(min(loads))
        batches[lightest].append(index)
        loads[lightest] += len(jobs[index][0])
    return [b for b in batches if b]

