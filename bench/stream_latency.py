"""Time to first token and total stream time through llm-dlp vs plain mitmdump, in the same run.

The stand-in provider's ``echo`` model streams the prompt back as it arrived upstream, four
characters per SSE event (Anthropic ``text_delta`` or OpenAI ``delta.content``). Through llm-dlp
the secrets in the prompt arrive redacted, so the answer is full of placeholders split across
events that llm-dlp restores on the way back; through mitmdump the secrets pass unredacted.
Requests are interleaved over keep-alive connections.

    .venv/bin/python -m bench.stream_latency [--requests 30] [--secrets 20] [--chars 4000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.proxy_latency import percentile  # noqa: E402
from llm_dlp.testing import secrets_factory as make  # noqa: E402
from llm_dlp.testing.proxyrun import free_port, start_proxy, wait_for_port  # noqa: E402
from llm_dlp.testing.standin import StandInProvider, TestCA  # noqa: E402

FIRST_TOKEN = {"anthropic": b'"text_delta"', "openai": b'"content": "'}


def prompt_with_secrets(chars: int, secrets: int) -> tuple[str, list[str]]:
    values = [make.aws_access_key_id() if i % 2 else make.github_pat() for i in range(secrets)]
    filler = "The deploy script reads its credentials from the environment before it starts. "
    text, i = "", 0
    while len(text) < chars:
        text += filler
        if i < len(values):
            text += f"export KEY_{i}={values[i]}\n"
            i += 1
    return text, values


def request_for(api: str, base_url: str, prompt: str) -> tuple[str, bytes]:
    messages = [{"role": "user", "content": prompt}]
    if api == "anthropic":
        return f"{base_url}/v1/messages", json.dumps({"model": "echo", "max_tokens": 4096, "stream": True, "messages": messages}).encode()
    return f"{base_url}/v1/chat/completions", json.dumps({"model": "echo", "stream": True, "messages": messages}).encode()


def timed_stream(client: httpx.Client, url: str, body: bytes, marker: bytes) -> tuple[float, float, bytes]:
    started = time.perf_counter()
    first, received = None, bytearray()
    with client.stream("POST", url, content=body, headers={"content-type": "application/json"}) as response:
        response.raise_for_status()
        for chunk in response.iter_raw():
            received += chunk
            if first is None and marker in received:
                first = time.perf_counter()
    end = time.perf_counter()
    return (first - started) * 1000, (end - started) * 1000, bytes(received)


def start_mitmdump(workdir: Path, ca: Path, *options: str) -> tuple[subprocess.Popen, int, Path]:
    port, confdir, log = free_port(), workdir / "mitm-conf", workdir / f"mitmdump-{len(options)}.log"
    args = [str(Path(sys.executable).parent / "mitmdump"), "-q", "--listen-host", "127.0.0.1", "--listen-port", str(port),
            "--set", f"confdir={confdir}", "--set", f"ssl_verify_upstream_trusted_ca={ca}",
            "--set", "connection_strategy=lazy", "--set", "http2=false"]
    for option in options:
        args += ["--set", option]
    process = subprocess.Popen(args, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    wait_for_port(port, process, log)
    return process, port, confdir / "mitmproxy-ca-cert.pem"


def answer_text(api: str, raw: bytes) -> str:
    """The text the client assembles from the stream's deltas."""
    text = []
    for line in raw.decode("utf-8").splitlines():
        if not line.startswith("data: {"):
            continue
        event = json.loads(line[6:])
        if api == "anthropic" and event.get("delta", {}).get("type") == "text_delta":
            text.append(event["delta"]["text"])
        elif api == "openai" and event.get("choices"):
            text.append(event["choices"][0]["delta"].get("content") or "")
    return "".join(text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--secrets", type=int, default=20)
    parser.add_argument("--chars", type=int, default=4000)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="llm-dlp-stream-bench-"))
    ca = TestCA(workdir / "ca")
    provider = StandInProvider(ca)
    # Plain mitmdump buffers a whole SSE answer (mitmproxy #4469); with stream_large_bodies=1 it
    # streams every body, which is how one would run it in front of streaming APIs.
    buffered, buffered_port, mitm_ca = start_mitmdump(workdir, ca.cert_path)
    streaming, streaming_port, _ = start_mitmdump(workdir, ca.cert_path, "stream_large_bodies=1")
    dlp = start_proxy(workdir / "dlp", intercept=[f"localhost:{provider.port}"], upstream_ca=ca.cert_path)
    clients = {
        "direct": httpx.Client(verify=str(ca.cert_path), timeout=60),
        "mitmdump": httpx.Client(proxy=f"http://127.0.0.1:{buffered_port}", verify=str(mitm_ca), timeout=60),
        "mitmdump streaming": httpx.Client(proxy=f"http://127.0.0.1:{streaming_port}", verify=str(mitm_ca), timeout=60),
        "llm-dlp": httpx.Client(proxy=dlp.url, verify=dlp.ssl_context(), timeout=60),
    }
    prompts = {"no secrets": prompt_with_secrets(args.chars, 0), f"{args.secrets} secrets": prompt_with_secrets(args.chars, args.secrets)}
    results: dict[tuple, list[tuple[float, float]]] = {}
    events: dict[tuple, int] = {}
    try:
        for api in ("anthropic", "openai"):
            for label, (prompt, values) in prompts.items():
                url, body = request_for(api, provider.base_url, prompt)
                for name, client in clients.items():  # warm up, and check what the client gets back
                    _, _, answer = timed_stream(client, url, body, FIRST_TOKEN[api])
                    events[(api, label)] = answer.count(b"data:")
                    assert answer_text(api, answer) == prompt, f"{name} did not give back the original prompt"
                for _ in range(args.requests):
                    for name, client in clients.items():
                        first, total, _ = timed_stream(client, url, body, FIRST_TOKEN[api])
                        results.setdefault((api, label, name), []).append((first, total))
    finally:
        dlp.stop()
        buffered.terminate()
        streaming.terminate()
        provider.close()

    print(f"{args.requests} streamed answers per cell, interleaved, keep-alive, loopback, TLS on both legs; "
          f"{args.chars}-char prompt echoed 4 chars per event")
    print("| API | prompt | events | path | TTFT p50 ms | TTFT p99 ms | total p50 ms | total p99 ms |")
    print("|---|---|---:|---|---:|---:|---:|---:|")
    for api in ("anthropic", "openai"):
        for label in prompts:
            for name in clients:
                cell = results[(api, label, name)]
                ttft, total = [c[0] for c in cell], [c[1] for c in cell]
                print(f"| {api} | {label} | {events[(api, label)]} | {name} | {statistics.median(ttft):.1f} | "
                      f"{percentile(ttft, 0.99):.1f} | {statistics.median(total):.1f} | {percentile(total, 0.99):.1f} |")


if __name__ == "__main__":
    main()
