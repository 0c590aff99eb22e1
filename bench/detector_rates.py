"""Detector throughput on real code and on adversarial shapes, each detector alone, CPU time.

    .venv/bin/python -m bench.detector_rates [--code-mb 10] [--index-mb 1] [--sizes 100000,1000000]
                                             [--detectors secrets,pii,code,proprietary_code]

Real code: the standard library's ``.py`` files in name order, concatenated to ``--code-mb`` MB
and scanned as 1 MB pieces (a long agent body is many segments of this size or less). The
proprietary-code detector gets an index of the first ``--index-mb`` MB of those files, so part
of what it scans is indexed. Shapes: ``llm_dlp.testing.shapes`` at each of ``--sizes``
characters. Times are ``time.process_time`` of one scan (the best of two for the shapes), after a
warm-up scan, so the load of other processes on the machine counts little.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code-mb", type=float, default=10)
    parser.add_argument("--index-mb", type=float, default=1)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--detectors", default="secrets,pii,code,proprietary_code")
    parser.add_argument("--skip-code", action="store_true", help="shapes only")
    args = parser.parse_args()
    names = args.detectors.split(",")
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
