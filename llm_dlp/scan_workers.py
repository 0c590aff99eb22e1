"""Running the detectors on a request's segments: from the findings cache, in this process, or in
worker processes so detection uses every core and leaves the proxy's event loop and the GIL.

Workers are forked after the detectors are built, so the compiled rules, the PII engine and the
language model are shared copy-on-write rather than built again in each. Only the segments the
cache does not know travel to the workers (text and path hint); findings (offsets, never values)
come back. A worker that dies or a scan that does not finish raises here, and the pipeline turns
that into a failure verdict: the request fails closed.

The pool is a few lines of its own rather than ``concurrent.futures.ProcessPoolExecutor``: the
thread that inspects a request sends its texts down an idle worker's pipe and reads the answer
from it, with no manager thread, feeder thread or wake-up pipe between them (three hand-offs of
the GIL per scan, which under load cost more than a resent turn's whole detection; profiled
through the proxy), and a worker that overruns the deadline is killed and replaced instead of
being left to finish a scan nobody waits for.

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
import queue
import threading
import time
from multiprocessing.connection import Connection
from typing import Collection, Mapping, Sequence

from detectors.base import Detector, Finding
from llm_dlp.providers import Segment
from llm_dlp.scan_cache import FindingsCache

log = logging.getLogger("llm_dlp")

DEFAULT_TIMEOUT_SECONDS = 120.0
# Only a request with this many characters of uncached text for every detector (a resumed
# session's first turn; fewer detectors or seam windows count for less: ``_cost``) is split
# across workers. Smaller ones go whole to one worker: the pool is first come, first
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
        if path_hint == _SEAM_HINT:  # a seam window: text read across segments, of no one file
            path_hint = None
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
        self.seam_ids = tuple(id_ for id_, d in zip(self.detection.ids, self.detection.detectors) if d.name == "secrets")
        self.seam_generic_rules = frozenset(
            rule.id for d in self.detection.detectors if d.name == "secrets" for rule in getattr(d, "rules", ())
            if rule.generic)
        self.cache = cache
        self.workers = workers
        self.timeout_seconds = timeout_seconds
        self._pool_lock = threading.Lock()
        self._pool = self._fork_pool() if workers > 0 else None

    def find(self, segments: Sequence[Segment], kinds: Collection[str] | None = None) -> list[list[Finding]]:
        """Findings per segment of the detectors that report one of ``kinds`` (None: all)."""
        return self.find_with_seams(segments, (), kinds)[0]

    def seams_needed(self, kinds: Collection[str] | None) -> bool:
        """Whether the seam scan (secrets) can find anything of ``kinds``."""
        return bool(set(self.seam_ids) & set(self.detection.ids_for(kinds)))

    def find_in_seams(self, texts: Sequence[str]) -> list[list[Finding]]:
        """Secrets-detector findings for each seam window, cached like segments."""
        return self.find_with_seams((), texts, None)[1]

    def find_with_seams(self, segments: Sequence[Segment], seam_texts: Sequence[str],
                        kinds: Collection[str] | None = None) -> tuple[list[list[Finding]], list[list[Finding]]]:
        """``find`` and ``find_in_seams`` at once: one cache round trip and one worker round trip
        for both, since a resent turn's new texts and its new seams are about as long."""
        # An agent request repeats many texts (object keys such as ``type`` or ``description``,
        # tool names, enum values: a fifth to a half of its segments): each distinct (text, path
        # hint) is looked up and scanned once. Detectors are pure functions of exactly those two,
        # so every segment holding the text gets the same findings (offsets into the text, never
        # into the body); each gets its own list, as the pipeline extends it per segment.
        ids = self.detection.ids_for(kinds)
        distinct: dict[tuple[str, str | None], int] = {}
        wanted: list[tuple[str, ...]] = []
        slots = []
        for text, job_ids in [*(((s.text, s.path_hint), ids) for s in segments),
                              *(((text, _SEAM_HINT), self.seam_ids) for text in seam_texts)]:
            slot = distinct.setdefault(text, len(distinct))
            if slot == len(wanted):
                wanted.append(job_ids)
            slots.append(slot)
        entries = self._entries(list(distinct), wanted)
        found = [[f for id_ in job_ids for f in entry[id_]] for entry, job_ids in zip(entries, wanted)]
        per_text = [list(found[slot]) for slot in slots]
        return per_text[:len(segments)], per_text[len(segments):]

    def _entries(self, texts: list[tuple[str, str | None]], wanted: list[tuple[str, ...]]) -> list[PerDetector]:
        """Per distinct text, the findings of at least the detectors it wants: from the cache where
        it has them, the missing detectors scanned (and their findings added to the entry)."""
        entries: list[PerDetector | None] = [None] * len(texts)
        keys: list[str] = []
        if self.cache is not None:
            version = self.cache.version()
            keys = [self.cache.key(version, text, hint) for text, hint in texts]
            # one round trip to a shared store for the whole request, not one per text
            entries = list(self.cache.get_many(keys, [len(text) for text, _ in texts]))
        lacking = [(i, tuple(id_ for id_ in ids if entry is None or id_ not in entry))
                   for i, (entry, ids) in enumerate(zip(entries, wanted))]
        lacking = [(i, missing) for i, missing in lacking if missing]
        scanned = self._scan([(*texts[i], missing) for i, missing in lacking])
        for (i, _), found in zip(lacking, scanned):
            entries[i] = {**(entries[i] or {}), **found}
        if self.cache is not None and lacking:
            self.cache.put_many([(keys[i], entries[i]) for i, _ in lacking])  # type: ignore[misc]
        return entries  # type: ignore[return-value]

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def _scan(self, jobs: list[Job]) -> list[dict[str, list[Finding]]]:
        if not jobs:
            return []
        if self._pool is None:
            return self.detection.run_all(jobs)
        return self._pool.run(jobs, self.timeout_seconds)

    def _fork_pool(self) -> _Pool:
        # Objects built so far move to the permanent generation, so the collector in a worker does
        # not write to (and so copy) every page the detectors live in.
        gc.freeze()
        # At start-up, before the proxy starts any thread. A worker replaced later forks a
        # threaded process; it runs only detector code, and should it wait on a lock another
        # thread held at the fork, its scans time out and fail closed rather than pass.
        return _Pool(self.workers, self.detection)


class _Worker:
    """One forked detector process and the pipe to it; used by one thread at a time."""

    def __init__(self, detection: Detection) -> None:
        ours, theirs = _FORK.Pipe(duplex=True)
        self.process = _FORK.Process(target=_serve, args=(theirs, detection), daemon=True,
                                     name="llm-dlp detector worker")
        self.process.start()
        theirs.close()
        self.connection: Connection = ours

    def send(self, jobs: list[Job]) -> None:
        self.connection.send(jobs)

    def answer(self, deadline: float) -> list[dict[str, list[Finding]]]:
        """The worker's findings; ``TimeoutError`` past the deadline, ``EOFError`` if it died."""
        if not self.connection.poll(max(0.0, deadline - time.monotonic())):
            raise TimeoutError
        failed, value = self.connection.recv()
        if failed:
            raise value
        return value

    def stop(self) -> None:
        self.connection.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=1)


class _Pool:
    """Idle workers in a queue: a request takes one (waiting its turn when all are busy), and a
    large one also takes whichever others are idle at that moment, never waiting for them."""

    def __init__(self, size: int, detection: Detection) -> None:
        self._detection = detection
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._closed = False
        for _ in range(size):
            self._idle.put(_Worker(self._detection))

    def run(self, jobs: list[Job], timeout: float) -> list[dict[str, list[Finding]]]:
        deadline = time.monotonic() + timeout
        try:
            workers = [self._idle.get(timeout=timeout)]
        except queue.Empty:
            raise ScanWorkerError(f"no detector worker was free within {timeout:g}s") from None
        try:
            while len(workers) < _split_count(jobs, len(workers) + self._idle.qsize()):
                workers.append(self._idle.get_nowait())
        except queue.Empty:
            pass
        batches = _batches(jobs, len(workers))
        results: list[dict[str, list[Finding]]] = [{} for _ in jobs]
        broken: list[_Worker] = []
        error: ScanWorkerError | None = None
        try:
            for worker, batch in zip(workers, batches):
                try:
                    worker.send([jobs[i] for i in batch])
                except OSError:
                    broken.append(worker)
            for worker, batch in zip(workers, batches):
                if worker in broken:
                    continue
                try:
                    for i, found in zip(batch, worker.answer(deadline)):
                        results[i] = found
                except TimeoutError:
                    broken.append(worker)  # still scanning: killed, so it holds no slot
                    error = error or ScanWorkerError(f"detector workers did not finish within {timeout:g}s")
                except (EOFError, OSError):
                    broken.append(worker)
            if broken and error is None:
                error = ScanWorkerError("a detector worker process died while scanning this request")
        finally:
            for worker in workers:
                self._release(worker, replace=worker in broken)
        if error is not None:
            raise error
        return results

    def _release(self, worker: _Worker, replace: bool) -> None:
        if replace:
            worker.stop()
            if self._closed:
                return
            log.error("llm-dlp: a detector worker died or overran its deadline; starting another")
            worker = _Worker(self._detection)
        if self._closed:
            worker.stop()
        else:
            self._idle.put(worker)

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().stop()
            except queue.Empty:
                return


_FORK = multiprocessing.get_context("fork")


# Read once by each new worker before it serves: what detectors load on first use (gazetteers,
# the public-suffix list, the language model) is then loaded before the first request, not in it
# (100-300 ms on the loaded test machine, once per worker).
_WARM_UP = ("Contact Jane Doe at jane.doe@example.com or +44 20 7946 0958, see https://example.com/docs.\n"
            "```python\ndef total(items):\n    return sum(item.price for item in items)\n```\n")


def _serve(connection: Connection, detection: Detection) -> None:
    """A worker's life: texts in, findings (offsets, never values) out, until the pipe closes."""
    try:
        detection.run(_WARM_UP, None)
    except Exception:  # noqa: BLE001 — a detector that fails here fails its first request instead
        pass
    while True:
        try:
            jobs = connection.recv()
        except (EOFError, OSError):
            return
        try:
            reply = (False, detection.run_all(jobs))
        except Exception as exc:  # noqa: BLE001 — raised again in the proxy, which fails the request closed
            reply = (True, exc)
        try:
            connection.send(reply)
        except (EOFError, OSError):
            return
        except Exception as exc:  # noqa: BLE001 — an exception that does not pickle
            connection.send((True, RuntimeError(f"{type(exc).__name__} in a detector worker")))


def _split_count(jobs: list[Job], workers: int) -> int:
    """How many workers a request's jobs are worth: one unless there is much uncached text."""
    total = sum(_cost(job) for job in jobs)
    return 1 if total < _SPLIT_CHARS * _COST_ALL else max(1, min(workers, len(jobs)))


# A job's cost: its characters, weighted by the detectors it runs. The secrets detector (the seam
# windows' only one) reads ~100 MB/s, the others 3-10 MB/s: by characters alone, a worker given
# the seams of a large first turn would idle while another scans its prose and code.
_COST_SECRETS, _COST_OTHER = 1, 10
_COST_ALL = _COST_SECRETS + 3 * _COST_OTHER


def _cost(job: Job) -> int:
    text, _, ids = job
    return len(text) * sum(_COST_SECRETS if id_ == "secrets" else _COST_OTHER for id_ in ids)


def _batches(jobs: list[Job], workers: int) -> list[list[int]]:
    """Positions of ``jobs`` split across workers by cost, dearest first into the lightest batch."""
    count = _split_count(jobs, workers)
    if count == 1:
        return [list(range(len(jobs)))]
    batches: list[list[int]] = [[] for _ in range(count)]
    loads = [0] * count
    costs = [_cost(job) for job in jobs]
    for index in sorted(range(len(jobs)), key=lambda i: -costs[i]):
        lightest = loads.index(min(loads))
        batches[lightest].append(index)
        loads[lightest] += costs[index]
    return [b for b in batches if b]
