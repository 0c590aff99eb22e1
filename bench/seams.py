"""What scanning the seams between segments costs on the session benchmark's bodies.

The bodies are ``bench.session``'s: a Claude-Code-shaped session whose history is resent every
turn, ~80 KB at turn 1 and ~500 KB at turn 30. In one process, with the bundled detectors:

- the final (~500 KB) body, uncached: whole ``Pipeline.scan`` CPU, and the part of it spent in
  the seam scan (the seam windows' jobs), and how many characters the seam windows hold;
- turn 30 after turn 29 with the findings cache, as the proxy sees a resent history: the same
  two numbers;
- ``bench.proxy_latency``'s 500 KB turn (tool results of up to 40 KB), uncached.

    .venv/bin/python -m bench.seams [--sessions 3] [--turns 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from bench.proxy_latency import large_turn
from bench.session import session_bodies, source_files
from llm_dlp.detection import build_detectors
from llm_dlp.keys import ValueHasher
from llm_dlp.pipeline import Pipeline, RequestInfo
from llm_dlp.policy.loader import load_policy_dir
from llm_dlp.scan_cache import FindingsCache, MemoryFindings
from llm_dlp.scan_workers import _SEAM_HINT, SegmentScanner
from llm_dlp.testing.proxyrun import REPO

INFO = RequestInfo("bench", "POST", "localhost", "/v1/messages", "anthropic")
HASHER = ValueHasher(b"k" * 32)


class _TimedScanner(SegmentScanner):
    """Adds up the CPU of the seam scan and the characters it was given."""

    seam_cpu = 0.0
    seam_chars = 0

    def _scan(self, jobs):
        # Segments and seam windows come in one batch; the windows are the jobs with the seam hint.
        seams = [i for i, job in enumerate(jobs) if job[1] == _SEAM_HINT]
        others = [i for i, job in enumerate(jobs) if job[1] != _SEAM_HINT]
        started = time.process_time()
        in_seams = super()._scan([jobs[i] for i in seams])
        self.seam_cpu += time.process_time() - started
        self.seam_chars += sum(len(jobs[i][0]) for i in seams)
        found = dict(zip(seams, in_seams)) | dict(zip(others, super()._scan([jobs[i] for i in others])))
        return [found[i] for i in range(len(jobs))]


def _measure(pipeline: Pipeline, scanner: _TimedScanner, body: bytes) -> tuple[float, float, int]:
    scanner.seam_cpu, scanner.seam_chars = 0.0, 0
    started = time.process_time()
    pipeline.scan(INFO, body, 10**9)
    return time.process_time() - started, scanner.seam_cpu, scanner.seam_chars


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=3)
    parser.add_argument("--turns", type=int, default=30)
    args = parser.parse_args()
    detectors = build_detectors()
    policies = load_policy_dir(REPO / "policies")
    files = source_files()
    cold, warm = [], []
    for number in range(args.sessions):
        bodies = session_bodies(number, args.turns, files)
        uncached = _TimedScanner(detectors)
        pipeline = Pipeline(policies, detectors, HASHER, scanner=uncached)
        pipeline.scan(INFO, bodies[0], 10**9)  # lazy loads are start-up, not scanning
        cold.append((len(bodies[-1]), *_measure(pipeline, uncached, bodies[-1])))
        cached = _TimedScanner(detectors, FindingsCache(HASHER, detectors, MemoryFindings()))
        pipeline = Pipeline(policies, detectors, HASHER, scanner=cached)
        pipeline.scan(INFO, bodies[-2], 10**9)
        warm.append((len(bodies[-1]), *_measure(pipeline, cached, bodies[-1])))
    large = json.dumps(large_turn()).encode()
    uncached = _TimedScanner(detectors)
    pipeline = Pipeline(policies, detectors, HASHER, scanner=uncached)
    big = [(len(large), *_measure(pipeline, uncached, large)) for _ in range(args.sessions)]
    print(f"Command: .venv/bin/python -m bench.seams --sessions {args.sessions} --turns {args.turns}")
    print("| turn | body | scan CPU | of which seams | seam share | seam window chars |")
    print("|---|---|---|---|---|---|")
    for label, rows in (("final turn, uncached", cold), (f"turn {args.turns} after {args.turns - 1}, cached", warm),
                        ("bench.proxy_latency 500 KB turn, uncached", big)):
        size, total, seams, chars = (statistics.median(column) for column in zip(*rows))
        print(f"| {label} | {size / 1000:.0f} KB | {total * 1000:.0f} ms | {seams * 1000:.1f} ms | "
              f"{seams / total:.1%} | {chars / 1000:.0f} K |")


if __name__ == "__main__":
    main()
