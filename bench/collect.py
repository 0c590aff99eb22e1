"""Rebuild BENCHMARKS.md from the result files the benchmark scripts write under bench/results/.

    .venv/bin/python -m bench.collect
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["proxy.md", "restore.md", "secrets.md", "pii.md", "code.md", "language.md", "audit.md"]

HEADER = """# Benchmarks

Measured, not asserted: the scripts under `bench/` print these tables; each section names the
command that produced it. All numbers come from the project's 2-core shared VMs, where other jobs
often ran at the same time, so absolute times are noisy; comparisons made inside one run
(llm-dlp vs mitmdump, ours vs detect-secrets or stock presidio) are the stable numbers.
Run benchmark scripts as modules from the repository root (`.venv/bin/python -m bench.NAME`):
`bench/secret_detection.py` would otherwise shadow Python's `secrets` module.

"""


def main() -> None:
    results = ROOT / "bench" / "results"
    names = ORDER + sorted(p.name for p in results.glob("*.md") if p.name not in ORDER)
    sections = [(results / name).read_text().strip() for name in names if (results / name).exists()]
    # Each result file starts with its own "# Title"; nest them one level down.
    body = "\n\n".join("#" + section if section.startswith("# ") else section for section in sections)
    (ROOT / "BENCHMARKS.md").write_text(HEADER + body + "\n")


if __name__ == "__main__":
    main()
