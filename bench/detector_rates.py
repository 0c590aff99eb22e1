"""Detector throughput on real code and on adversarial shapes, each detector alone, CPU time.

    .venv/bin/python -m bench.detector_rates [--code-mb 10] [--index-mb 1] [--sizes 100000,1000000]
                                             [--detectors secrets,pii,code,proprietary_code]
    .venv/bin/python -m bench.detector_rates --code-ab <checkout> [--rounds 5] [--code-mb 10]

Real code: the standard library's ``.py`` files in name order, concatenated to ``--code-mb`` MB
and scanned as 1 MB pieces (a long agent body is many segments of this size or less). The
proprietary-code detector gets an index of the first ``--index-mb`` MB of those files, so part
of what it scans is indexed. Shapes: ``llm_dlp.testing.shapes`` at each of ``--sizes``
characters. Times are ``time.process_time`` of one scan (the best of two for the shapes), after a
warm-up scan, so the load of other processes on the machine counts little.

``--code-ab``: the code detector of this tree against the one of another checkout (its
``detectors/code`` copied into a scratch package, so both run in this process, alternately, on
the same inputs): the issue's 518 KB agent body (``bench.proxy_latency.large_turn``, split into
segments as the pipeline does), whole files as numbered and as plain tool results, and 1 MB of
the standard library; with ``--code-mb``, also the real code of the rates table (that many MB
in 1 MB pieces). Prints ms per 100 KB and MB/s of each side, the ratio, and whether the
findings are the same.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import shutil
import statistics
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from llm_dlp.testing.shapes import SHAPES, shape

PIECE = 1_000_000


def _stdlib_code(limit: int) -> list[tuple[str, str]]:
    files = []
    total = 0
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")):
        if "test" in path.parts or "site-packages" in path.parts:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        files.append((path.name, text))
        total += len(text)
        if total >= limit:
            break
    return files


def _detectors(names: list[str], index_files: list[tuple[str, str]], root: Path) -> dict:
    from detectors.code import CodeDetector, ProprietaryCodeDetector
    from detectors.code.index_store import IndexStore
    from detectors.code.indexer import build_index
    from detectors.pii import PiiDetector
    from detectors.secrets import SecretDetector

    built = {}
    for name in names:
        if name == "secrets":
            built[name] = SecretDetector()
        elif name == "pii":
            built[name] = PiiDetector()
        elif name == "code":
            built[name] = CodeDetector()
        elif name == "proprietary_code":
            source = root / "src"
            source.mkdir()
            for number, (file_name, text) in enumerate(index_files):
                (source / f"{number:05}_{file_name}").write_text(text)
            store = IndexStore(root / "index", create=True)
            try:
                build_index(store, "stdlib", "core", [source])
            finally:
                store.close()
            built[name] = ProprietaryCodeDetector(root / "index")
    for detector in built.values():
        detector.scan("warm up: mail jane@example.com\nx = compute(a, b)\ny = x + 1\n")
    return built


def _cpu(detector, text: str, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        detector.scan(text)
        best = min(best, time.process_time() - started)
    return best


def _baseline_code_detector(checkout: Path, scratch: Path):
    """``detectors.code`` of ``checkout`` as the package ``code_baseline``, and its CodeDetector."""
    package = scratch / "code_baseline"
    shutil.copytree(checkout / "detectors" / "code", package, ignore=shutil.ignore_patterns("__pycache__"))
    for path in package.glob("*.py"):
        path.write_text(re.sub(r"\bdetectors\.code\b", "code_baseline", path.read_text()))
    sys.path.insert(0, str(scratch))
    return importlib.import_module("code_baseline").CodeDetector()


def _ab_inputs(code_mb: float = 0) -> dict[str, list[tuple[str, str | None]]]:
    from bench.code_detection import agent_tool_results
    from bench.proxy_latency import large_turn
    from llm_dlp.providers import adapter_for

    body = large_turn()
    # as the pipeline scans them: with the path a tool call names, where it names one
    segments = [(s.text, s.path_hint) for s in adapter_for("/v1/messages").extract(json.loads(json.dumps(body))).segments]
    return {
        f"agent body ({len(json.dumps(body)) // 1000} KB, {len(segments)} segments)": segments,
        "agent body without path hints": [(text, None) for text, _ in segments],
        "tool results, numbered (cat -n)": [(text, None) for text in agent_tool_results(True)],
        "tool results, plain files": [(text, None) for text in agent_tool_results(False)],
        "1 MB of the standard library": [(text, None) for _, text in _stdlib_code(PIECE)],
        **({f"{code_mb:g} MB of the standard library in 1 MB pieces (the real-code rate)": _pieces(code_mb)} if code_mb else {}),
    }


def _pieces(code_mb: float) -> list[tuple[str, str | None]]:
    """The real code of the rates table, as it scans it."""
    code = "\n".join(text for _, text in _stdlib_code(int(code_mb * 1_000_000)))[: int(code_mb * 1_000_000)]
    return [(code[at : at + PIECE], None) for at in range(0, len(code), PIECE)]


def _findings_key(findings) -> list[tuple]:
    return [(f.start, f.end, f.rule, tuple(sorted((k, str(v)) for k, v in f.details.items()))) for f in findings]


def code_ab(checkout: Path, rounds: int, code_mb: float = 0) -> None:
    from detectors.code import CodeDetector

    with tempfile.TemporaryDirectory() as scratch:
        sides = {
            "before": _baseline_code_detector(checkout, Path(scratch)),
            "after": CodeDetector(),
            # as a proxy runs it for policies with no rule on kind code (default allow)
            "after, no languages": CodeDetector(identify_languages=False),
        }
        inputs = _ab_inputs(code_mb)
        print("| input | KB | before ms/100 KB | after ms/100 KB | no languages ms/100 KB | before MB/s | after MB/s "
              "| no languages MB/s | speed-up | no languages | same findings |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for name, segments in inputs.items():
            size = sum(len(text.encode()) for text, _ in segments)
            found = {side: [_findings_key(sides[side].scan(text, path_hint=hint)) for text, hint in segments]
                     for side in ("before", "after")}
            times: dict[str, list[float]] = {side: [] for side in sides}
            for _ in range(rounds):  # alternately, so a load spike hits every side
                for side, detector in sides.items():
                    started = time.process_time()
                    for text, hint in segments:
                        detector.scan(text, path_hint=hint)
                    times[side].append(time.process_time() - started)
            best = {side: statistics.median(values) for side, values in times.items()}
            per_100k = {side: seconds * 1000 / (size / 100_000) for side, seconds in best.items()}
            rate = {side: size / 1e6 / seconds for side, seconds in best.items()}
            differing = sum(a != b for a, b in zip(found["before"], found["after"]))
            same = "yes" if not differing else f"{differing} of {len(segments)} segments differ"
            reduced = "after, no languages"
            print(f"| {name} | {size // 1000} | {per_100k['before']:.1f} | {per_100k['after']:.1f} | {per_100k[reduced]:.1f} "
                  f"| {rate['before']:.2f} | {rate['after']:.2f} | {rate[reduced]:.2f} | {best['before'] / best['after']:.1f}x "
                  f"| {best['before'] / best[reduced]:.1f}x | {same} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code-ab", type=Path, metavar="CHECKOUT", help="code detector: this tree against CHECKOUT's")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--code-mb", type=float, default=None, help="real code, MB (default 10; with --code-ab: none)")
    parser.add_argument("--index-mb", type=float, default=1)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--detectors", default="secrets,pii,code,proprietary_code")
    parser.add_argument("--skip-code", action="store_true", help="shapes only")
    args = parser.parse_args()
    if args.code_ab is not None:
        code_ab(args.code_ab, args.rounds, args.code_mb or 0)
        return
    names = args.detectors.split(",")
    args.code_mb = args.code_mb or 10
    code_files = _stdlib_code(int(args.code_mb * 1_000_000))
    index_files = _stdlib_code(int(args.index_mb * 1_000_000))
    code = "\n".join(text for _, text in code_files)[: int(args.code_mb * 1_000_000)]
    with tempfile.TemporaryDirectory() as scratch:
        detectors = _detectors(names, index_files, Path(scratch))
        if not args.skip_code:
            print(f"Real code: {len(code) / 1e6:.1f} MB of the standard library in 1 MB pieces; "
                  f"proprietary-code index of {sum(len(t) for _, t in index_files) / 1e6:.1f} MB\n")
            print("| detector | CPU s | MB/s |\n|---|---:|---:|")
            for name, detector in detectors.items():
                seconds = sum(_cpu(detector, code[at : at + PIECE]) for at in range(0, len(code), PIECE))
                print(f"| {name} | {seconds:.2f} | {len(code) / 1e6 / seconds:.2f} |", flush=True)
            print()
        sizes = [int(size) for size in args.sizes.split(",")]
        print("| detector | shape | " + " | ".join(f"{size // 1000} KB" for size in sizes) + " |")
        print("|---|---|" + "---:|" * len(sizes))
        for name, detector in detectors.items():
            for shape_name in SHAPES:
                cells = [f"{_cpu(detector, shape(shape_name, size), repeat=2) * 1000:.0f} ms" for size in sizes]
                print(f"| {name} | {shape_name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
