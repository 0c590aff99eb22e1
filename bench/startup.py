"""Start-up: `llm-dlp run` until its port accepts connections, next to plain mitmdump from the same
.venv, and `llm-dlp scan` of a 1 KB file; medians of several runs, CPU and peak RSS.

The 1 KB file holds a phone number, whose score depends on the words around it: that loads
spaCy's tokenizer (most of a second). A second file holds only findings that need no context
words (an e-mail address, code), as most small scans do; it is scanned without spaCy.

    .venv/bin/python -m bench.startup [--runs 5] [--cold] [--baseline DIR]

Each run is a fresh process. The port is polled every 10 ms. Peak RSS of ``run`` and mitmdump is
the process's high-water mark (VmHWM) when the port first listens; of ``scan``, the child's
maximum resident set from wait4. CPU is user + system time: of ``scan`` from wait4; of ``run`` and
mitmdump, of the process and its children (the scan workers) when the port first listens. On a
loaded machine wall-clock times vary by 2x between runs; CPU times hardly do. ``--cold`` also measures one start with an empty build cache
(``LLM_DLP_CACHE_DIR`` pointed at a fresh directory: hyperscan databases and gazetteers are
built and stored, as on a machine's first start). ``--baseline DIR``: also the same commands
with another checkout first on PYTHONPATH (e.g. a worktree of the commit before a change), run
alternately with this one so both see the same load.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from llm_dlp.testing.proxyrun import free_port

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent
SAMPLE_1KB = (
    "Deploy notes for the billing service.\n"
    "Contact jane.doe@example.com or call +1 415 555 0134 if the job fails.\n"
    "def retry(job, attempts=3):\n    for attempt in range(attempts):\n        if job.run():\n"
    "            return True\n    return False\n"
)
# The same without the phone number.
SAMPLE_1KB_NO_CONTEXT = SAMPLE_1KB.replace(" or call +1 415 555 0134", "")


def _vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and every live descendant, so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        # After the command name: state, ppid, ... utime and stime are fields 14 and 15 of stat.
        parents[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = int(fields[11]) + int(fields[12])
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent and child not in tree]
        tree.update(children)
        frontier += children
    return sum(used.get(member, 0) for member in tree) / ticks


def _until_listening(args: list[str], port: int, env: dict[str, str], cwd: Path) -> tuple[float, float, float]:
    started = time.perf_counter()
    process = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{args[0]} exited with {process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    elapsed = time.perf_counter() - started
                    return elapsed, _vm_hwm_mib(process.pid), _cpu_seconds(process.pid)
            except OSError:
                time.sleep(0.01)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _scan(file: Path, env: dict[str, str]) -> tuple[float, float, float]:
    started = time.perf_counter()
    process = subprocess.Popen([str(BIN / "llm-dlp"), "scan", str(file)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = 0  # reaped by wait4
    return elapsed, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def _row(label: str, samples: list[tuple[float, float, float]]) -> str:
    seconds = statistics.median(s for s, _, _ in samples)
    best = min(s for s, _, _ in samples)
    cpu = statistics.median(c for _, _, c in samples)
    rss = max(r for _, r, _ in samples)
    return f"| {label} | {seconds:.2f} s | {best:.2f} s | {cpu:.2f} s | {rss:.0f} MiB | {len(samples)} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="also one start with an empty build cache")
    parser.add_argument("--baseline", type=Path, help="a checkout to compare with (put first on PYTHONPATH)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        env = os.environ.copy()
        sample = work / "sample.txt"
        sample.write_text((SAMPLE_1KB * 8)[:1024])
        plain_sample = work / "sample-no-context.txt"
        plain_sample.write_text((SAMPLE_1KB_NO_CONTEXT * 8)[:1024])

        def run_args(port: int) -> list[str]:
            return [str(BIN / "llm-dlp"), "run", "--listen-port", str(port), "--confdir", str(work / "certs"),
                    "--audit-log", str(work / "audit.jsonl"), "--policy-dir", str(REPO / "policies"),
                    # The default policy has proprietary_code rules; the bench has no code index.
                    "--allow-missing-index"]

        def mitmdump_args(port: int) -> list[str]:
            return [str(BIN / "mitmdump"), "--listen-port", str(port), "--set", f"confdir={work / 'certs'}", "-q"]

        # One start first: creates the CA and keys both then share, and the build cache.
        first_port = free_port()
        _until_listening(run_args(first_port), first_port, env, work)
        rows = []
        if args.cold:
            cold_env = dict(env, LLM_DLP_CACHE_DIR=str(work / "cold-cache"))
            port = free_port()
            rows.append(_row("`llm-dlp run` until listening, empty build cache", [_until_listening(run_args(port), port, cold_env, work)]))
            rows.append(_row("`llm-dlp scan` of 1 KB, empty build cache",
                             [_scan(sample, dict(env, LLM_DLP_CACHE_DIR=str(work / "cold-cache-2")))]))
        base_env = dict(env, PYTHONPATH=str(args.baseline)) if args.baseline else None
        runs, plain, scans, plain_scans, base_runs, base_scans, base_plain_scans = [], [], [], [], [], [], []
        for _ in range(args.runs):
            port = free_port()
            runs.append(_until_listening(run_args(port), port, env, work))
            port = free_port()
            plain.append(_until_listening(mitmdump_args(port), port, env, work))
            scans.append(_scan(sample, env))
            plain_scans.append(_scan(plain_sample, env))
            if base_env is not None:
                port = free_port()
                base_runs.append(_until_listening(run_args(port), port, base_env, work))
                base_scans.append(_scan(sample, base_env))
                base_plain_scans.append(_scan(plain_sample, base_env))
        rows[:0] = [_row("`llm-dlp run` until listening", runs), _row("plain `mitmdump` until listening", plain),
                    _row("`llm-dlp scan` of a 1 KB file", scans),
                    _row("`llm-dlp scan` of a 1 KB file, no context words", plain_scans)]
        if base_env is not None:
            rows[4:4] = [_row(f"`llm-dlp run` until listening, {args.baseline.name}", base_runs),
                         _row(f"`llm-dlp scan` of a 1 KB file, {args.baseline.name}", base_scans),
                         _row(f"`llm-dlp scan` of a 1 KB file, no context words, {args.baseline.name}",
                              base_plain_scans)]
    print("| measure | median | best | CPU (median) | peak RSS | runs |")
    print("|---|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
