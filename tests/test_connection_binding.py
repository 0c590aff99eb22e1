"""Interception bound to the connection, through the real proxy with real clients over TLS.

The endpoint a request is scanned as comes from where its connection goes (the CONNECT
authority) and the SNI the client gave, never from the Host header: a Host that disagrees is
refused in the provider's shape and audited; a CONNECT to an AI host's address is intercepted
when its SNI names the host; one that names no host is refused or tunnelled as the tenant's
``unknown_destination`` says. Each test checks what reached the stand-in and the audit lines.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import subprocess
import time

import httpx
import pytest

from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.proxyrun import copy_policies, start_proxy
from llm_dlp.testing.standin import REPLY


def chat(text: str) -> bytes:
    return json.dumps({"model": "claude-test", "max_tokens": 5, "messages": [{"role": "user", "content": text}]}).encode()


def written(proxy) -> str:
    """Every audit line and every log line the proxy wrote."""
    audit = proxy.audit_path.read_text() if proxy.audit_path.exists() else ""
    return audit + proxy.log_path.read_text()


def connect_tls(proxy, authority: str, sni: str | None, cafile) -> ssl.SSLSocket:
    """A CONNECT to ``authority`` through the proxy, then TLS with ``sni`` (None: no SNI at all)."""
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=30)
    sock.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 200"), head
    context = ssl.create_default_context(cafile=str(cafile))
    context.check_hostname = False  # checked below against the name the test means
    return context.wrap_socket(sock, server_hostname=sni)


def post_raw(tls: ssl.SSLSocket, host: str, path: str, body: bytes) -> http.client.HTTPResponse:
    tls.sendall(
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode() + body
    )
    response = http.client.HTTPResponse(tls)
    response.begin()
    return response


def test_a_trailing_dot_host_is_the_same_endpoint_and_is_scanned(proxy, provider, received):
    key_id = make.aws_access_key_id()
    with proxy.client() as client:
        response = client.post(f"{provider.base_url}/v1/messages", content=chat(f"key {key_id}"),
                               headers={"host": f"LOCALHOST.:{provider.port}", "content-type": "application/json"})
    assert response.status_code == 200 and response.json()["content"][0]["text"] == REPLY
    [upstream] = received
    assert key_id not in upstream.text and "[[secret:aws-access-token:" in upstream.text
    line = proxy.decisions()[-1]
    assert (line["decision"], line["host"], line["provider"]) == ("redact", "localhost", "custom")
    assert key_id not in written(proxy)


def test_a_foreign_host_inside_an_intercepted_connection_is_refused_and_audited(proxy, provider, received):
    key_id = make.aws_access_key_id()
    smuggled = f"{key_id.lower()}.example.org"  # a value in the Host name itself must not reach the audit
    before = len(proxy.decisions())
    with proxy.client() as client:
        response = client.post(f"{provider.base_url}/v1/messages", content=chat(f"key {key_id}"),
                               headers={"host": smuggled, "content-type": "application/json"})
    assert response.status_code == 421
    error = response.json()
    assert error["type"] == "error" and "Host header names another host" in error["error"]["message"]
    assert response.headers["x-should-retry"] == "false"
    assert received == []
    [line] = proxy.decisions()[before:]
    assert (line["decision"], line["error"], line["status"]) == ("error", "host disagrees with connection", 421)
    assert line["host"] == "localhost"
    assert key_id not in written(proxy) and key_id.lower() not in written(proxy)


def test_an_address_connect_whose_sni_names_an_ai_host_is_intercepted_and_scanned(proxy, provider, received):
    key_id = make.aws_access_key_id()
    with connect_tls(proxy, f"127.0.0.1:{provider.port}", "localhost", proxy.ca_cert) as tls:
        certificate = tls.getpeercert(binary_form=True)  # verified against the proxy's CA
        response = post_raw(tls, f"localhost:{provider.port}", "/v1/messages", chat(f"key {key_id}"))
        body = json.loads(response.read())
    # The proxy's own certificate: the connection was decrypted, not tunnelled.
    assert certificate != ssl.PEM_cert_to_DER_cert(provider.cert_path.read_text())
    assert response.status == 200 and body["content"][0]["text"] == REPLY
    [upstream] = received
    assert key_id not in upstream.text and "[[secret:aws-access-token:" in upstream.text
    line = proxy.decisions()[-1]
    assert (line["decision"], line["host"]) == ("redact", "localhost")
    assert key_id not in written(proxy)


def test_an_address_connect_without_sni_is_refused_by_default(proxy, provider, received):
    key_id = make.aws_access_key_id()
    before = len(proxy.decisions())
    result = subprocess.run(
        ["curl", "-sS", "-x", proxy.url, "--cacert", str(proxy.ca_cert), "-H", "content-type: application/json",
         "--data-binary", chat(f"key {key_id}"), f"https://127.0.0.1:{provider.port}/v1/messages"],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr
    error = json.loads(result.stdout)
    assert error["error"]["type"] == "permission_error" and "unknown_destination" in error["error"]["message"]
    assert received == []
    [line] = proxy.decisions()[before:]
    assert (line["decision"], line["error"], line["status"]) == ("error", "unknown destination", 403)
    assert (line["host"], line["provider"]) == ("127.0.0.1", "unknown")
    assert key_id not in written(proxy)


@pytest.fixture(scope="module")
def tunnelling_proxy(tmp_path_factory, provider, test_ca):
    tmp = tmp_path_factory.mktemp("tunnelling")
    default = (copy_policies(tmp / "bundled") / "default.yaml").read_text()
    policies = copy_policies(tmp / "policies", default=default.replace("unknown_destination: block", "unknown_destination: tunnel"))
    running = start_proxy(tmp / "run", intercept=[f"localhost:{provider.port}"], upstream_ca=test_ca.cert_path,
                          policy_dir=policies)
    yield running
    running.stop()


def test_an_address_connect_without_sni_is_tunnelled_when_the_policy_says_so(tunnelling_proxy, provider, test_ca,
                                                                              received):
    key_id = make.aws_access_key_id()
    # The client trusts only the provider's own CA: it succeeds only through a blind tunnel.
    with connect_tls(tunnelling_proxy, f"127.0.0.1:{provider.port}", None, test_ca.cert_path) as tls:
        assert tls.getpeercert(binary_form=True) == ssl.PEM_cert_to_DER_cert(provider.cert_path.read_text())
        response = post_raw(tls, f"127.0.0.1:{provider.port}", "/v1/messages", chat(f"key {key_id}"))
        assert response.status == 200
    [upstream] = received
    assert key_id in upstream.text  # tunnelled: what the policy chose, and why it is not the default
    assert tunnelling_proxy.decisions() == []
    # The same proxy still intercepts an address whose SNI names the AI host.
    with connect_tls(tunnelling_proxy, f"127.0.0.1:{provider.port}", "localhost", tunnelling_proxy.ca_cert) as tls:
        response = post_raw(tls, f"localhost:{provider.port}", "/v1/messages", chat(f"key {key_id}"))
        assert response.status == 200
    assert key_id not in received[1].text and tunnelling_proxy.decisions()[-1]["decision"] == "redact"


def test_a_plain_http_request_naming_an_ai_host_that_goes_elsewhere_is_refused(proxy, provider, received):
    key_id = make.aws_access_key_id()
    before = len(proxy.decisions())
    # Absolute-form plain HTTP to a host that is not an AI endpoint, claiming to be one.
    with httpx.Client(proxy=proxy.url, timeout=30) as client:
        response = client.post("http://127.0.0.1:9/v1/messages", content=chat(f"key {key_id}"),
                               headers={"host": f"localhost:{provider.port}", "content-type": "application/json"})
    assert response.status_code == 421 and "names an AI API" in response.json()["error"]["message"]
    assert received == []
    [line] = proxy.decisions()[before:]
    assert (line["error"], line["host"], line["provider"]) == ("host disagrees with connection", "localhost", "custom")
    assert key_id not in written(proxy)


def test_plain_bytes_in_a_tunnel_to_another_host_pass_as_sent(proxy):
    # A request mitmproxy would refuse if it parsed it (both Content-Length and chunked): a blind
    # tunnel hands it to the origin byte for byte, as a tunnel for TLS does.
    raw = (b"POST /x HTTP/1.1\r\nHost: origin.example\r\nContent-Length: 5\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(30)
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as sock:
            sock.sendall(f"CONNECT localhost:{port} HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n".encode())
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
            sock.sendall(raw)
            origin, _ = server.accept()
            with origin:
                origin.settimeout(30)
                got = b""
                while len(got) < len(raw):
                    got += origin.recv(4096)
                origin.sendall(b"pong")
            assert sock.recv(4096) == b"pong"
    assert got == raw


def test_an_absolute_form_target_inside_an_intercepted_connection_must_agree_too(proxy, provider, received):
    key_id = make.aws_access_key_id()
    before = len(proxy.decisions())
    with connect_tls(proxy, f"localhost:{provider.port}", "localhost", proxy.ca_cert) as tls:
        response = post_raw(tls, f"localhost:{provider.port}", "https://example.org/v1/messages", chat(f"key {key_id}"))
        assert response.status == 421
    assert received == []
    [line] = proxy.decisions()[before:]
    assert (line["error"], line["host"]) == ("host disagrees with connection", "localhost")
    assert key_id not in written(proxy) and "example.org" not in json.dumps(line)


def test_an_http2_authority_is_held_to_the_connection_like_a_host_header(tmp_path, provider, test_ca, received):
    key_id = make.aws_access_key_id()
    running = start_proxy(tmp_path / "h2", intercept=[f"localhost:{provider.port}"], upstream_ca=test_ca.cert_path,
                          extra_args=["--set", "http2=true"])

    def curl_h2(*headers: str) -> tuple[str, int]:
        result = subprocess.run(
            ["curl", "-sS", "--http2", "-x", running.url, "--cacert", str(running.ca_cert), "-o", "/dev/null",
             "-w", "%{http_version} %{http_code}", "-H", "content-type: application/json",
             *[arg for header in headers for arg in ("-H", header)],
             "--data-binary", chat(f"key {key_id}"), f"{provider.base_url}/v1/messages"],
            capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        version, status = result.stdout.split()
        return version, int(status)

    try:
        assert curl_h2() == ("2", 200)
        assert curl_h2("host: example.org") == ("2", 421)  # curl sends it as :authority
        [upstream] = received  # only the agreeing one, redacted
        assert key_id not in upstream.text and "[[secret:" in upstream.text
        assert [(line["decision"], line.get("error")) for line in running.decisions()] == [
            ("redact", None), ("error", "host disagrees with connection")]
        assert key_id not in written(running) and "example.org" not in running.audit_path.read_text()
    finally:
        running.stop()


def split_hello_tls(sock: socket.socket, sni: str, cafile) -> tuple[ssl.SSLObject, ssl.MemoryBIO, ssl.MemoryBIO]:
    """TLS whose ClientHello goes out as one byte, a pause, then the rest: mitmproxy takes fewer
    than three first bytes for a client that does not speak TLS."""
    context = ssl.create_default_context(cafile=str(cafile))
    context.check_hostname = False
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=sni)
    first = True
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            data = outgoing.read()
            if first and data:
                sock.sendall(data[:1])
                time.sleep(0.5)
                data, first = data[1:], False
            sock.sendall(data)
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            incoming.write(chunk)
    sock.sendall(outgoing.read())
    return tls, incoming, outgoing


def test_a_client_hello_split_after_its_first_byte_is_still_intercepted(proxy, provider, test_ca, tmp_path, received):
    key_id = make.aws_access_key_id()
    both = tmp_path / "both.pem"  # the client would accept the provider itself as gladly as the proxy
    both.write_text(test_ca.cert_path.read_text() + proxy.ca_cert.read_text())
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as sock:
        authority = f"localhost:{provider.port}"
        sock.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        tls, incoming, outgoing = split_hello_tls(sock, "localhost", both)
        body = chat(f"key {key_id}")
        tls.write(f"POST /v1/messages HTTP/1.1\r\nHost: {authority}\r\ncontent-type: application/json\r\n"
                  f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode() + body)
        sock.sendall(outgoing.read())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            incoming.write(chunk)
            try:
                answer += tls.read(65536)
            except ssl.SSLWantReadError:
                pass
    assert answer.startswith(b"HTTP/1.1 200")
    [upstream] = received
    assert key_id not in upstream.text and "[[secret:" in upstream.text
    assert proxy.decisions()[-1]["decision"] == "redact"
