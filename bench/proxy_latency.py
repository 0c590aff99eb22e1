"""Added latency of llm-dlp over plain mitmdump, measured in the same run.

Starts a local TLS stand-in provider, plain ``mitmdump`` (no addons) and ``llm-dlp run`` with the
bundled policies, then sends the same requests through each (and directly), interleaved, over
keep-alive connections, and prints p50/p99 per path and the difference.

    .venv/bin/python -m bench.proxy_latency [--requests 60]

(Run bench scripts as modules: ``bench/secret_detection.py`` would otherwise shadow the stdlib module.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llm_dlp.testing.proxyrun import free_port, start_proxy, wait_for_port  # noqa: E402
from llm_dlp.testing.standin import StandInProvider, TestCA  # noqa: E402

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def tool_definitions(count: int) -> list[dict]:
    tools = []
    for index in range(count):
        properties = {
            f"param_{p}": {"type": "string", "description": f"Parameter {p} of tool {index}. " * 12}
            for p in range(8)
        }
        tools.append({
            "name": f"tool_{index}",
            "description": ("Use this tool to operate on the workspace. " * 40),
            "input_schema": {"type": "object", "properties": properties, "required": ["param_0"]},
        })
    return tools


def first_turn() -> dict:
    """~60 KB: a coding agent's first request (system prompt, a dozen tools, short question)."""
    system = (STDLIB / "textwrap.py").read_text()[:12000]
    return {
        "model": "claude-test", "max_tokens": 1024,
        "system": [{"type": "text", "text": system}],
        "tools": tool_definitions(12),
        "messages": [{"role": "user", "content": "Why does the build fail on CI but not locally?"}],
    }


def large_turn(target_bytes: int = 500_000) -> dict:
    """~500 KB: the same agent after reading many files (tool results carry whole sources)."""
    body = first_turn()
    files = sorted(STDLIB.glob("*.py"))
    index = 0
    while len(json.dumps(body)) < target_bytes:
        source = files[index % len(files)]
        tool_id = f"toolu_{index}"
        body["messages"] += [
            {"role": "assistant", "content": [{"type": "tool_use", "id": tool_id, "name": "Read",
                                               "input": {"file_path": str(source)}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id,
                                          "content": source.read_text(errors="replace")[:40000]}]},
        ]
        index += 1
    body["messages"].append({"role": "user", "content": "Now fix it."})
    return body


def start_mitmdump(workdir: Path, ca: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    log = workdir / "mitmdump.log"
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "mitmdump"), "-q", "--listen-host", "127.0.0.1", "--listen-port", str(port),
         "--set", f"confdir={workdir / 'mitm-conf'}", "--set", f"ssl_verify_upstream_trusted_ca={ca}",
         "--set", "connection_strategy=lazy", "--set", "http2=false"],
        stdout=open(log, "w"), stderr=subprocess.STDOUT,
    )
    wait_for_port(port, process, log)
    return process, port


def print_table(lines: list[str], out: Path | None) -> None:
    """A bench's markdown table on stdout, and in ``out`` when the caller asked for a file."""
    table = "\n".join(lines)
    print(table)
    if out:
        out.write_text(table + "\n")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--policy-dir", type=lambda p: Path(p).resolve(), help="llm-dlp's policies (default: the bundled ones)")
    parser.add_argument("--out", type=Path, help="also write the table as markdown to this file")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="llm-dlp-bench-"))
    ca = TestCA(workdir / "ca")
    provider = StandInProvider(ca)
    mitmdump, mitm_port = start_mitmdump(workdir, ca.cert_path)
    # The same body is sent again and again: without --scan-cache-mb 0 every repeat would be a
    # findings-cache hit, and this table would no longer show the cost of scanning (bench.session
    # measures the cache on a real, growing conversation).
    dlp = start_proxy(workdir / "dlp", intercept=[f"localhost:{provider.port}"], upstream_ca=ca.cert_path,
                      policy_dir=args.policy_dir, extra_args=["--scan-cache-mb", "0"])
    clients = {
        "direct": httpx.Client(verify=str(ca.cert_path), timeout=60),
        "mitmdump": httpx.Client(proxy=f"http://127.0.0.1:{mitm_port}",
                                 verify=str(workdir / "mitm-conf" / "mitmproxy-ca-cert.pem"), timeout=60),
        "llm-dlp": httpx.Client(proxy=dlp.url, verify=dlp.ssl_context(), timeout=60),
    }
    bodies = {"60KB first turn": json.dumps(first_turn()).encode(), "500KB with tool results": json.dumps(large_turn()).encode()}
    url = f"{provider.base_url}/v1/messages"
    results: dict[tuple[str, str], list[float]] = {}
    scan_ms: dict[str, list[float]] = {}  # the pipeline's own time per request, from the audit
    try:
        for label, body in bodies.items():
            for client in clients.values():  # warm connections, caches and the CA's leaf cert
                client.post(url, content=body, headers={"content-type": "application/json"}).raise_for_status()
            audited = len(dlp.decisions())
            for _ in range(args.requests):
                for name, client in clients.items():
                    started = time.perf_counter()
                    response = client.post(url, content=body, headers={"content-type": "application/json"})
                    elapsed = (time.perf_counter() - started) * 1000
                    response.raise_for_status()
                    results.setdefault((label, name), []).append(elapsed)
            time.sleep(0.3)  # the last decision line
            scan_ms[label] = [line["scan_ms"] for line in dlp.decisions()[audited:]]
    finally:
        dlp.stop()
        mitmdump.terminate()
        provider.close()

    lines = [f"{args.requests} sequential requests per cell, keep-alive, loopback, TLS on both legs", "",
             "| request | path | p50 ms | p99 ms | mean ms |", "|---|---|---:|---:|---:|"]
    for label, body in bodies.items():
        for name in clients:
            values = results[(label, name)]
            lines.append(f"| {label} | {name} | {statistics.median(values):.1f} | {percentile(values, 0.99):.1f} "
                         f"| {statistics.fmean(values):.1f} |")
        added50 = statistics.median(results[(label, "llm-dlp")]) - statistics.median(results[(label, "mitmdump")])
        added99 = percentile(results[(label, "llm-dlp")], 0.99) - percentile(results[(label, "mitmdump")], 0.99)
        lines.append(f"| {label} ({len(body) / 1000:.0f} KB) | **added by llm-dlp** | **{added50:.1f}** | **{added99:.1f}** | |")
        # The rest of the added time is the proxy around the pipeline: the addon's hooks, the
        # hop to the inspecting thread and back, the audit line (and mitmproxy's extra work).
        inside = statistics.median(scan_ms[label])
        lines.append(f"| {label} | of which in the pipeline (audit scan_ms) / around it | {inside:.1f} / "
                     f"{added50 - inside:.1f} | | |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(
            "# Proxy latency: llm-dlp vs plain mitmdump (same run)\n\n"
            f"Command: `.venv/bin/python -m bench.proxy_latency --requests {args.requests}"
            + (f" --policy-dir {args.policy_dir}" if args.policy_dir else "") + f" --out {args.out}`\n"
            f"Date: {time.strftime('%Y-%m-%d')} · 2-core shared VM, loopback stand-in provider over TLS, "
            + (f"policies {args.policy_dir}" if args.policy_dir else
               "bundled default policy (all detectors: secrets, PII, code, proprietary code with an empty index)")
            + ".\n\n"
            + table + "\n"
        )


if __name__ == "__main__":
    main()
