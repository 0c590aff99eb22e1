"""Time of ``Pipeline.inspect`` in this process, without a findings cache: the bench turns of
``bench.proxy_latency`` and the recorded agent bodies of ``tests/data/agents/``.

    .venv/bin/python -m bench.inspect_latency [--repeat 15] [--workers 2] [--policy-dir DIR] [--profile "60KB first turn"]

Medians of ``--repeat`` runs after one warm-up, bundled policies, every detector, in one process
(so what a request costs the detectors and the pipeline, not the proxy's I/O); the first table
without a findings cache, the second a recorded follow-up turn with the turn before it cached. ``--profile``
prints the top of a cProfile of that body instead.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.proxy_latency import first_turn, large_turn  # noqa: E402
from llm_dlp.detection import DetectorOptions, DetectorRegistry, build_detectors, fit_to_policies  # noqa: E402
from llm_dlp.keys import ValueHasher  # noqa: E402
from llm_dlp.pipeline import Pipeline  # noqa: E402
from llm_dlp.policy.loader import load_policy_dir  # noqa: E402
from llm_dlp.request import RequestInfo  # noqa: E402
from llm_dlp.scan_cache import FindingsCache, MemoryFindings  # noqa: E402
from llm_dlp.scan_workers import SegmentScanner  # noqa: E402

AGENTS = ROOT / "tests" / "data" / "agents"


def bodies() -> dict[str, tuple[RequestInfo, bytes]]:
    anthropic = RequestInfo("bench", "POST", "api.anthropic.com", "/v1/messages", "anthropic",
                            content_type="application/json")
    out = {"60KB first turn": (anthropic, json.dumps(first_turn()).encode()),
           "518KB with tool results": (anthropic, json.dumps(large_turn()).encode())}
    for path in sorted(AGENTS.glob("*.json")):
        record = json.loads(path.read_text())
        headers = tuple((k, v) for k, v in record["headers"].items())
        info = RequestInfo("bench", record["method"], "api.example", record["path"], record["api"],
                           content_type="application/json", headers=headers)
        out[path.stem] = (info, json.dumps(record["body"]).encode())
    return out


def build_pipeline(workers: int, policy_dir: Path = ROOT / "policies") -> Pipeline:
    detectors = build_detectors(DetectorOptions())
    policies = load_policy_dir(policy_dir, registry=DetectorRegistry.of(detectors))
    detectors = fit_to_policies(detectors, policies.policies.values())
    return Pipeline(policies, detectors, ValueHasher(b"k" * 32), scanner=SegmentScanner(detectors, workers=workers))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--profile", help="a body's label: print its profile instead")
    parser.add_argument("--workers", type=int, default=0, help="detector worker processes, as the proxy has (0: none)")
    parser.add_argument("--policy-dir", type=Path, default=ROOT / "policies",
                        help="policies (bench/data/policy_no_code: no use for kind code, so no code detectors)")
    args = parser.parse_args()
    pipeline = build_pipeline(args.workers, args.policy_dir)
    cases = bodies()
    if args.profile:
        info, body = cases[args.profile]
        pipeline.inspect(info, body)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.repeat):
            pipeline.inspect(info, body)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        return
    print(f"| body | KB | segments | findings | inspect p50 ms |\n|---|---:|---:|---:|---:|")
    for label, (info, body) in cases.items():
        inspection = pipeline.inspect(info, body)
        segments = len(pipeline.scan(info, body, 1 << 30).parsed.segments)
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            pipeline.inspect(info, body)
            times.append((time.perf_counter() - started) * 1000)
        print(f"| {label} | {len(body) / 1000:.0f} | {segments} | {len(inspection.verdict.findings)} "
              f"| {statistics.median(times):.1f} |")
    print("\n| follow-up turn, findings cache warmed by the turn before | inspect p50 ms |\n|---|---:|")
    for cli in ("claude-code", "codex", "gemini-cli"):
        times = []
        for _ in range(args.repeat):
            cached = Pipeline(pipeline.policies, pipeline.detectors, pipeline.hasher,
                              scanner=SegmentScanner(pipeline.detectors, FindingsCache(
                                  pipeline.hasher, pipeline.detectors, MemoryFindings())))
            cached.inspect(*cases[f"{cli}-turn1"])
            started = time.perf_counter()
            cached.inspect(*cases[f"{cli}-turn2"])
            times.append((time.perf_counter() - started) * 1000)
        print(f"| {cli}-turn2 after {cli}-turn1 | {statistics.median(times):.1f} |")
    pipeline.scanner.close()


if __name__ == "__main__":
    main()
