"""A local stand-in for an LLM provider, over real TLS, that records what arrives upstream.

It answers Anthropic Messages and OpenAI Chat Completions requests (JSON or SSE) the way the
real APIs do, closely enough for their official SDKs to parse, and keeps every request it
received so tests can assert on exactly what left the proxy.

A stand-in may serve under a path prefix, as the Anthropic-compatible endpoints of DeepSeek
(``/anthropic``), DashScope (``/apps/anthropic``) or Zhipu (``/api/anthropic``) do: then only
paths under that prefix are answered, and any other gets a 404, so a test knows which path arrived.

Models named ``echo`` answer with the last user message as it arrived (the redacted prompt),
streamed a few characters per event; ``echo-tool`` answers with a tool call whose arguments
carry it. Anthropic echoes start with a signed ``thinking`` block holding the same text.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import ipaddress
import json
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# The project's frame encoder; the clients in the tests decode with botocore's own parser.
from llm_dlp.restore.eventstream import encode_frame, encode_headers
from llm_dlp.testing.agentscript import AgentScript, Failure, ToolCall, next_step


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes  # content-decoded

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class TestCA:
    """A throwaway CA that signs the stand-in servers' certificates."""

    directory: Path
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"test origin CA {id(self)}")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.cert_path = self.directory / "test-ca.pem"
        self.cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, stem: str) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(self.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert_path, key_path = self.directory / f"{stem}.crt", self.directory / f"{stem}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return cert_path, key_path


class StandInProvider:
    def __init__(self, ca: TestCA, name: str = "standin", prefix: str = "") -> None:
        self.prefix = prefix.rstrip("/")
        self.received: list[Received] = []
        # Set by a test: a scripted agent session for requests that offer tools, or an error
        # answer for every model request.
        self.agent: AgentScript | None = None
        self.failure: Failure | None = None
        self._lock = threading.Lock()
        cert, key = ca.issue(name)
        self.cert_path = cert
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        handler = type("Handler", (_Handler,), {"provider": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"https://localhost:{self.port}"

    def record(self, item: Received) -> None:
        with self._lock:
            self.received.append(item)

    def clear(self) -> None:
        with self._lock:
            self.received.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    provider: StandInProvider
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        self.provider.record(Received("GET", self.path, dict(self.headers), b""))
        self._send(200, b"hello from the stand-in\n", "text/plain")

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length", "0")))
        body = gzip.decompress(raw) if self.headers.get("content-encoding") == "gzip" else raw
        self.provider.record(Received("POST", self.path, dict(self.headers), body))
        if not self.path.startswith(self.provider.prefix + "/"):
            self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}).encode(), "application/json")
            return
        try:
            request = json.loads(body)
        except ValueError:
            request = {}
        route = self.path.split("?", 1)[0][len(self.provider.prefix):]
        stream = isinstance(request, dict) and request.get("stream") is True
        api = api_of(route)
        if api is not None and self.provider.failure is not None:
            self._fail(self.provider.failure)
        elif api is not None and self.provider.agent is not None and isinstance(request, dict) and (
                step := next_step(api, _unwrapped(request), self.provider.agent)) is not None:
            self._agent(api, route, request, stream or ":streamGenerateContent" in route, step)
        elif route.endswith("/responses"):
            self._responses(request, stream)
        elif route.startswith("/model/"):
            self._bedrock(route, request)
        elif ":generateContent" in route or ":streamGenerateContent" in route:
            self._gemini(request, ":streamGenerateContent" in route and "alt=sse" in self.path)
        elif isinstance(request, dict) and str(request.get("model", "")).startswith("echo"):
            self._echo(route, request, stream)
        elif route.endswith("/v1/messages"):
            if stream:
                self._sse(_anthropic_events(request.get("model", "claude-test")))
            else:
                self._json(_anthropic_message(request.get("model", "claude-test")))
        elif route.endswith("/chat/completions"):
            if stream:
                self._sse(_openai_chunks(request.get("model", "gpt-test")))
            else:
                self._json(_openai_completion(request.get("model", "gpt-test")))
        else:
            self._json({"ok": True})

    def _echo(self, route: str, request: dict, stream: bool) -> None:
        model, prompt = request["model"], _last_user_text(request)
        tool = {"file_path": "/tmp/echo.txt", "content": prompt} if model == "echo-tool" else None
        if model == "echo-edit":  # an agent's Edit of the text it was shown
            tool = {"file_path": "/tmp/echo.txt", "old_string": prompt, "new_string": prompt + " (checked)"}
        anthropic = route.endswith("/v1/messages")
        if stream:
            self._sse((_anthropic_echo_events if anthropic else _openai_echo_chunks)(model, prompt, tool))
        else:
            self._json((_anthropic_echo if anthropic else _openai_echo)(model, prompt, tool))

    def _agent(self, api: str, route: str, request: dict, stream: bool, step: ToolCall | str) -> None:
        """The scripted agent's move, in the API's own answer shape."""
        model = str(request.get("model") or route.rsplit("/", 1)[-1].split(":", 1)[0])
        text, call = (step, None) if isinstance(step, str) else ("", step)
        if api == "anthropic":
            self._sse(_anthropic_agent_events(model, text, call)) if stream else self._json(_anthropic_agent(model, text, call))
        elif api == "chat":
            tool = None if call is None else call.arguments
            name = "Write" if call is None else call.name
            self._sse(_openai_echo_chunks(model, text, tool, name)) if stream else self._json(_openai_echo(model, text, tool, name))
        elif api == "responses" and call is not None and isinstance(call.arguments, str):
            self._sse(_responses_custom_call_events(model, call)) if stream else self._json(
                _response_object(model, "", None) | {"output": [_custom_call_item(call)]})
        elif api == "responses":
            arguments = None if call is None else json.dumps(call.arguments)
            name = "write_file" if call is None else call.name
            if stream:
                self._sse(_responses_events(model, text, arguments, name))
            else:
                self._json(_response_object(model, text, arguments, name=name))
        else:
            part = {"text": text} if call is None else {"functionCall": {"name": call.name, "args": call.arguments}}
            self._gemini_answer(isinstance(request.get("request"), dict), [part], stream)

    def _fail(self, failure: Failure) -> None:
        self.send_response(failure.status)
        for name, value in failure.headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(failure.body)))
        self.end_headers()
        self.wfile.write(failure.body)

    def _responses(self, request: dict, stream: bool) -> None:
        """OpenAI Responses API; model ``echo`` answers with the last input text, ``echo-tool``
        with a function call carrying it."""
        model = request.get("model", "gpt-test")
        text = _last_input_text(request) if str(model).startswith("echo") else REPLY
        tool = json.dumps({"path": "/tmp/echo.txt", "content": text}) if model == "echo-tool" else None
        if stream:
            self._sse(_responses_events(model, text, tool))
        else:
            self._json(_response_object(model, text, tool))

    def _gemini(self, request: dict, stream: bool) -> None:
        """Gemini (and Code Assist when the body is wrapped in ``request``): echoes the last user
        text after a thought part; ``"echo-tool"`` in the text answers with a function call."""
        wrapped = isinstance(request.get("request"), dict)
        body = request["request"] if wrapped else request
        user = [c for c in body.get("contents", []) if c.get("role", "user") == "user"][-1]
        text = "".join(p.get("text", "") for p in user.get("parts", []) if isinstance(p, dict))
        thought = {"text": text, "thought": True, "thoughtSignature": "c2lnbmVk"}
        if "echo-tool" in text:
            answers = [{"functionCall": {"name": "write_file", "args": {"path": "/tmp/x", "content": text}}}]
        else:
            answers = [{"text": piece} for piece in (_pieces(text) if stream else [text])]
        self._gemini_answer(wrapped, answers, stream, thought)

    def _gemini_answer(self, wrapped: bool, answers: list[dict], stream: bool, thought: dict | None = None) -> None:
        def response(parts: list, finish: bool) -> dict:
            candidate: dict = {"content": {"role": "model", "parts": parts}, "index": 0}
            if finish:
                candidate["finishReason"] = "STOP"
            payload = {"candidates": [candidate], "modelVersion": "gemini-test"}
            return {"response": payload, "traceId": "t"} if wrapped else payload

        if not stream:
            self._json(response([thought, *answers] if thought else answers, True))
            return
        events = [(None, response([thought], False))] if thought else []
        events += [(None, response([answer], i == len(answers) - 1)) for i, answer in enumerate(answers)]
        self._sse(events)

    def _bedrock(self, route: str, request: dict) -> None:
        """Bedrock runtime: the model id ``echo`` answers with the last user text, ``echo-tool``
        with a tool call carrying it; InvokeModel in Anthropic's format, Converse in its own,
        streams as AWS event-stream frames."""
        _, _, model, action = route.split("/", 3)
        tool = model == "echo-tool"
        if action.startswith("converse"):
            prompt = "".join(b.get("text", "") for b in request["messages"][-1]["content"] if isinstance(b, dict))
            if action == "converse":
                self._json(_converse_echo(prompt, tool))
            else:
                self._frames(_converse_echo_frames(prompt, tool))
            return
        prompt = _last_user_text(request)
        answer = {"file_path": "/tmp/echo.txt", "content": prompt} if tool else None
        if action == "invoke":
            self._json(_anthropic_echo(model, prompt, answer))
            return
        chunks = [("chunk", {"bytes": base64.b64encode(json.dumps(data).encode()).decode(), "p": "abcdef"})
                  for _, data in _anthropic_echo_events(model, prompt, answer)]
        self._frames(chunks)

    def _frames(self, frames: list[tuple[str, dict]]) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/vnd.amazon.eventstream")
        self.send_header("connection", "close")
        self.end_headers()
        for event_type, payload in frames:
            headers = encode_headers({":event-type": event_type, ":content-type": "application/json",
                                      ":message-type": "event"})
            self.wfile.write(encode_frame(headers, json.dumps(payload).encode()))
            self.wfile.flush()
        self.close_connection = True

    def _json(self, payload: dict) -> None:
        self._send(200, json.dumps(payload).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _sse(self, events: list[tuple[str | None, dict | str]]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        for name, data in events:
            payload = data if isinstance(data, str) else json.dumps(data)
            chunk = (f"event: {name}\n" if name else "") + f"data: {payload}\n\n"
            self.wfile.write(chunk.encode())
            self.wfile.flush()
        self.close_connection = True


REPLY = "Hello from the stand-in provider."


def _anthropic_message(model: str) -> dict:
    return {
        "id": "msg_standin", "type": "message", "role": "assistant", "model": model,
        "content": [{"type": "text", "text": REPLY}],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }


def _anthropic_events(model: str) -> list[tuple[str | None, dict | str]]:
    start = _anthropic_message(model) | {"content": [], "stop_reason": None}
    events: list[tuple[str | None, dict | str]] = [
        ("message_start", {"type": "message_start", "message": start}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ]
    for word in REPLY.split(" "):
        events.append(("content_block_delta", {"type": "content_block_delta", "index": 0,
                                               "delta": {"type": "text_delta", "text": word + " "}}))
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"output_tokens": 5}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return events


def _openai_completion(model: str) -> dict:
    return {
        "id": "chatcmpl-standin", "object": "chat.completion", "created": 1700000000, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def _openai_chunks(model: str) -> list[tuple[str | None, dict | str]]:
    base = {"id": "chatcmpl-standin", "object": "chat.completion.chunk", "created": 1700000000, "model": model}
    chunks: list[tuple[str | None, dict | str]] = [
        (None, base | {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
    ]
    for word in REPLY.split(" "):
        chunks.append((None, base | {"choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]}))
    chunks.append((None, base | {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    chunks.append((None, "[DONE]"))
    return chunks


ECHO_PIECE = 4  # characters per streamed delta: every placeholder spans several events


def _pieces(text: str) -> list[str]:
    return [text[i : i + ECHO_PIECE] for i in range(0, len(text), ECHO_PIECE)] or [""]


def _converse_echo(prompt: str, tool: bool) -> dict:
    reasoning = {"reasoningContent": {"reasoningText": {"text": prompt, "signature": "c2lnbmVk"}}}
    answer = {"toolUse": {"toolUseId": "tooluse_echo", "name": "Write",
                          "input": {"file_path": "/tmp/echo.txt", "content": prompt}}} if tool else {"text": prompt}
    return {"output": {"message": {"role": "assistant", "content": [reasoning, answer]}},
            "stopReason": "tool_use" if tool else "end_turn",
            "usage": {"inputTokens": 5, "outputTokens": 5, "totalTokens": 10}, "metrics": {"latencyMs": 1}}


def _converse_echo_frames(prompt: str, tool: bool) -> list[tuple[str, dict]]:
    def delta(index: int, body: dict) -> tuple[str, dict]:
        return "contentBlockDelta", {"contentBlockIndex": index, "delta": body, "p": "abcd"}

    frames = [("messageStart", {"role": "assistant", "p": "ab"})]
    frames += [delta(0, {"reasoningContent": {"text": piece}}) for piece in _pieces(prompt)]
    frames += [delta(0, {"reasoningContent": {"signature": "c2lnbmVk"}}), ("contentBlockStop", {"contentBlockIndex": 0})]
    if tool:
        frames.append(("contentBlockStart", {"contentBlockIndex": 1,
                                             "start": {"toolUse": {"toolUseId": "tooluse_echo", "name": "Write"}}}))
        arguments = json.dumps({"file_path": "/tmp/echo.txt", "content": prompt})
        frames += [delta(1, {"toolUse": {"input": piece}}) for piece in _pieces(arguments)]
    else:
        frames += [delta(1, {"text": piece}) for piece in _pieces(prompt)]
    frames += [
        ("contentBlockStop", {"contentBlockIndex": 1}),
        ("messageStop", {"stopReason": "tool_use" if tool else "end_turn"}),
        ("metadata", {"usage": {"inputTokens": 5, "outputTokens": 5, "totalTokens": 10}, "metrics": {"latencyMs": 1}}),
    ]
    return frames


def _last_user_text(request: dict) -> str:
    content = [m for m in request.get("messages", []) if m.get("role") == "user"][-1]["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def _tool_name(tool: dict) -> str:
    return "Edit" if "old_string" in tool else "Write"


def _anthropic_echo(model: str, prompt: str, tool: dict | None) -> dict:
    answer = {"type": "tool_use", "id": "toolu_echo", "name": _tool_name(tool), "input": tool} if tool else {"type": "text", "text": prompt}
    thinking = {"type": "thinking", "thinking": prompt, "signature": "c2lnbmVk"}
    return _anthropic_message(model) | {"content": [thinking, answer], "stop_reason": "tool_use" if tool else "end_turn"}


def _anthropic_echo_events(model: str, prompt: str, tool: dict | None) -> list[tuple[str | None, dict | str]]:
    def delta(index: int, body: dict) -> tuple[str, dict]:
        return "content_block_delta", {"type": "content_block_delta", "index": index, "delta": body}

    start = _anthropic_message(model) | {"content": [], "stop_reason": None}
    events: list[tuple[str | None, dict | str]] = [("message_start", {"type": "message_start", "message": start})]
    events.append(("content_block_start", {"type": "content_block_start", "index": 0,
                                           "content_block": {"type": "thinking", "thinking": "", "signature": ""}}))
    events += [delta(0, {"type": "thinking_delta", "thinking": piece}) for piece in _pieces(prompt)]
    events += [delta(0, {"type": "signature_delta", "signature": "c2lnbmVk"}),
               ("content_block_stop", {"type": "content_block_stop", "index": 0})]
    if tool:
        block, pieces = {"type": "tool_use", "id": "toolu_echo", "name": _tool_name(tool), "input": {}}, _pieces(json.dumps(tool))
        events.append(("content_block_start", {"type": "content_block_start", "index": 1, "content_block": block}))
        events += [delta(1, {"type": "input_json_delta", "partial_json": piece}) for piece in pieces]
    else:
        events.append(("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}))
        events += [delta(1, {"type": "text_delta", "text": piece}) for piece in _pieces(prompt)]
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use" if tool else "end_turn",
                                                              "stop_sequence": None}, "usage": {"output_tokens": 5}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return events


def _openai_echo(model: str, prompt: str, tool: dict | None, name: str = "Write") -> dict:
    message: dict = {"role": "assistant", "content": None if tool else prompt}
    if tool:
        message["tool_calls"] = [{"id": "call_echo", "type": "function",
                                  "function": {"name": name, "arguments": json.dumps(tool)}}]
    completion = _openai_completion(model)
    completion["choices"] = [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool else "stop"}]
    return completion


def _openai_echo_chunks(model: str, prompt: str, tool: dict | None,
                        name: str = "Write") -> list[tuple[str | None, dict | str]]:
    base = {"id": "chatcmpl-standin", "object": "chat.completion.chunk", "created": 1700000000, "model": model}

    def chunk(delta: dict, finish: str | None = None) -> tuple[None, dict]:
        return None, base | {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks: list[tuple[str | None, dict | str]] = [chunk({"role": "assistant", "content": None if tool else ""})]
    if tool:
        chunks.append(chunk({"tool_calls": [{"index": 0, "id": "call_echo", "type": "function",
                                             "function": {"name": name, "arguments": ""}}]}))
        chunks += [chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}) for piece in _pieces(json.dumps(tool))]
    else:
        chunks += [chunk({"content": piece}) for piece in _pieces(prompt)]
    chunks += [chunk({}, "tool_calls" if tool else "stop"), (None, "[DONE]")]
    return chunks


def _last_input_text(request: dict) -> str:
    items = request.get("input")
    if isinstance(items, str):
        return items
    last = [i for i in items if isinstance(i, dict) and i.get("role") == "user"][-1]["content"]
    return last if isinstance(last, str) else "".join(p.get("text", "") for p in last if isinstance(p, dict))


def _response_item(text: str, tool: str | None, name: str = "write_file") -> dict:
    if tool is not None:
        return {"type": "function_call", "id": "fc_echo", "call_id": "call_echo", "name": name,
                "arguments": tool, "status": "completed"}
    return {"type": "message", "id": "msg_echo", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}


def _response_object(model: str, text: str, tool: str | None, status: str = "completed",
                     name: str = "write_file") -> dict:
    return {
        "id": "resp_standin", "object": "response", "created_at": 1700000000, "status": status, "model": model,
        "output": [_response_item(text, tool, name)] if status == "completed" else [],
        "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
        "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15,
                  "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}},
    }


def _responses_events(model: str, text: str, tool: str | None,
                      name: str = "write_file") -> list[tuple[str | None, dict | str]]:
    events: list[tuple[str | None, dict]] = []

    def emit(kind: str, **fields) -> None:
        events.append((kind, {"type": kind, "sequence_number": len(events), **fields}))

    emit("response.created", response=_response_object(model, text, tool, "in_progress", name))
    item = _response_item(text, tool, name)
    if tool is not None:
        emit("response.output_item.added", output_index=0, item=item | {"arguments": "", "status": "in_progress"})
        for piece in _pieces(tool):
            emit("response.function_call_arguments.delta", item_id="fc_echo", output_index=0, delta=piece)
        emit("response.function_call_arguments.done", item_id="fc_echo", output_index=0, arguments=tool)
    else:
        emit("response.output_item.added", output_index=0, item=item | {"content": [], "status": "in_progress"})
        part = {"type": "output_text", "text": "", "annotations": []}
        emit("response.content_part.added", item_id="msg_echo", output_index=0, content_index=0, part=part)
        for piece in _pieces(text):
            emit("response.output_text.delta", item_id="msg_echo", output_index=0, content_index=0, delta=piece,
                 logprobs=[])
        emit("response.output_text.done", item_id="msg_echo", output_index=0, content_index=0, text=text, logprobs=[])
        emit("response.content_part.done", item_id="msg_echo", output_index=0, content_index=0, part=part | {"text": text})
    emit("response.output_item.done", output_index=0, item=item)
    emit("response.completed", response=_response_object(model, text, tool, name=name))
    return events


def api_of(route: str) -> str | None:
    """Which model API a request path speaks, for the agent script and canned failures."""
    if route.endswith("/v1/messages"):
        return "anthropic"
    if route.endswith("/chat/completions"):
        return "chat"
    if route.endswith("/responses"):
        return "responses"
    if ":generateContent" in route or ":streamGenerateContent" in route:
        return "gemini"
    return None


def _unwrapped(request: dict) -> dict:
    """Code Assist wraps a Gemini request in ``request``."""
    return request["request"] if isinstance(request.get("request"), dict) else request


def _anthropic_agent(model: str, text: str, call: ToolCall | None) -> dict:
    block = ({"type": "text", "text": text} if call is None else
             {"type": "tool_use", "id": "toolu_agent_read", "name": call.name, "input": call.arguments})
    return _anthropic_message(model) | {"content": [block], "stop_reason": "end_turn" if call is None else "tool_use"}


def _anthropic_agent_events(model: str, text: str, call: ToolCall | None) -> list[tuple[str | None, dict | str]]:
    def delta(body: dict) -> tuple[str, dict]:
        return "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": body}

    start = _anthropic_message(model) | {"content": [], "stop_reason": None}
    events: list[tuple[str | None, dict | str]] = [("message_start", {"type": "message_start", "message": start})]
    if call is None:
        events.append(("content_block_start", {"type": "content_block_start", "index": 0,
                                               "content_block": {"type": "text", "text": ""}}))
        events += [delta({"type": "text_delta", "text": piece}) for piece in _pieces(text)]
    else:
        block = {"type": "tool_use", "id": "toolu_agent_read", "name": call.name, "input": {}}
        events.append(("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}))
        events += [delta({"type": "input_json_delta", "partial_json": piece}) for piece in _pieces(json.dumps(call.arguments))]
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn" if call is None else "tool_use",
                                                              "stop_sequence": None}, "usage": {"output_tokens": 5}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return events


def _custom_call_item(call: ToolCall) -> dict:
    return {"type": "custom_tool_call", "id": "ctc_agent", "call_id": "call_agent_read", "name": call.name,
            "input": call.arguments, "status": "completed"}


def _responses_custom_call_events(model: str, call: ToolCall) -> list[tuple[str | None, dict | str]]:
    """A freeform tool call (Codex's code-mode ``exec``) as a Responses stream."""
    events: list[tuple[str | None, dict]] = []

    def emit(kind: str, **fields) -> None:
        events.append((kind, {"type": kind, "sequence_number": len(events), **fields}))

    item = _custom_call_item(call)
    emit("response.created", response=_response_object(model, "", None, "in_progress"))
    emit("response.output_item.added", output_index=0, item=item | {"input": "", "status": "in_progress"})
    for piece in _pieces(str(call.arguments)):
        emit("response.custom_tool_call_input.delta", item_id="ctc_agent", output_index=0, delta=piece)
    emit("response.custom_tool_call_input.done", item_id="ctc_agent", output_index=0, input=call.arguments)
    emit("response.output_item.done", output_index=0, item=item)
    emit("response.completed", response=_response_object(model, "", None) | {"output": [item]})
    return events
