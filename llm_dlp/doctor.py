"""``llm-dlp doctor``: is this machine's client set up to go through the proxy? What to fix if not.

Each coding tool finds the proxy and trusts its CA through its own variables: Node tools (Claude
Code, Gemini CLI) read ``HTTPS_PROXY`` and add ``NODE_EXTRA_CA_CERTS`` to their roots; Codex
reads ``CODEX_CA_CERTIFICATE`` (else ``SSL_CERT_FILE``); Python SDKs read ``SSL_CERT_FILE``
(httpx) and ``REQUESTS_CA_BUNDLE`` (requests), which *replace* the roots, so those must name a
bundle with the public roots in it too. A variable can be set and still be wrong, so the last
check is the real one: a request to an AI host through the proxy, trusting only the proxy's CA.
It succeeds only if the proxy is reachable, accepts this client, intercepts that host and signs
with that CA. Every failed check says what to run to fix it.
"""

from __future__ import annotations

import socket
import ssl
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from cryptography import x509

DEFAULT_URL = "https://api.anthropic.com/"
PEM_MARKER = b"-----BEGIN CERTIFICATE-----"


@dataclass(frozen=True, slots=True)
class Tool:
    key: str
    label: str
    ca_variables: tuple[str, ...]
    each: bool = False  # every variable is read (by different libraries), not the first one set
    replaces_roots: bool = False  # the file is the whole trust store, so it needs the public roots too


TOOLS = (
    Tool("claude-code", "Claude Code", ("NODE_EXTRA_CA_CERTS",)),
    Tool("codex", "Codex CLI", ("CODEX_CA_CERTIFICATE", "SSL_CERT_FILE")),
    Tool("gemini-cli", "Gemini CLI", ("NODE_EXTRA_CA_CERTS",)),
    Tool("python", "Python SDKs (httpx, requests)", ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"), each=True,
         replaces_roots=True),
)


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def diagnose(env: Mapping[str, str], tools: Sequence[Tool] = TOOLS, *, proxy: str | None = None,
             ca: Path | None = None, url: str | None = None, timeout: float = 10.0) -> list[Check]:
    url = url or DEFAULT_URL
    checks = [_proxy_variable(env, proxy)]
    checks.append(_no_proxy(env, urlsplit(url).hostname or ""))
    expected = _certificates(ca) if ca else None
    ca_files: list[Path] = [ca] if ca else []
    for tool in tools:
        for check, path in _tool_trust(env, tool, ca, expected):
            checks.append(check)
            if check.ok and path not in ca_files:
                ca_files.append(path)
    proxy_url = proxy or _env_proxy(env)
    if proxy_url:
        checks.append(_through_proxy(proxy_url, url, ca_files[0] if ca_files else None, timeout))
    return checks


def format_report(checks: Sequence[Check]) -> str:
    lines = []
    for check in checks:
        lines.append(f"{'ok  ' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
        if not check.ok and check.fix:
            lines += [f"      fix: {line}" for line in check.fix.splitlines()]
    failed = sum(not c.ok for c in checks)
    lines.append(f"{failed} problem(s) found" if failed else "everything checked is in order")
    return "\n".join(lines)


def _env_proxy(env: Mapping[str, str]) -> str:
    return env.get("HTTPS_PROXY") or env.get("https_proxy") or ""


def _proxy_variable(env: Mapping[str, str], expected: str | None) -> Check:
    upper, lower = env.get("HTTPS_PROXY", ""), env.get("https_proxy", "")
    example = expected or "http://PROXY-HOST:8080"
    if not upper and not lower:
        return Check("HTTPS_PROXY", False, "not set: tools connect to the AI hosts directly, unscanned",
                     f"export HTTPS_PROXY={example} https_proxy={example}")
    if upper and lower and _address(upper) != _address(lower):
        return Check("HTTPS_PROXY", False, f"HTTPS_PROXY={_shown(upper)} but https_proxy={_shown(lower)}: "
                     "tools differ in which one they read", f"export HTTPS_PROXY={example} https_proxy={example}")
    value = upper or lower
    if expected and _address(value) != _address(expected):
        return Check("HTTPS_PROXY", False, f"{_shown(value)}, not the proxy {_shown(expected)}",
                     f"export HTTPS_PROXY={expected} https_proxy={expected}")
    return Check("HTTPS_PROXY", True, _shown(value))


def _no_proxy(env: Mapping[str, str], host: str) -> Check:
    entries = [e.strip() for name in ("NO_PROXY", "no_proxy") for e in env.get(name, "").replace(" ", ",").split(",")]
    bypass = [e for e in entries if e and _bypasses(e, host)]
    if bypass:
        return Check("NO_PROXY", False, f"{', '.join(sorted(set(bypass)))} sends {host} around the proxy",
                     f"remove {', '.join(sorted(set(bypass)))} from NO_PROXY and no_proxy")
    return Check("NO_PROXY", True, f"does not bypass {host}")


def _bypasses(entry: str, host: str) -> bool:
    name = entry.split(":", 1)[0].lower().lstrip("*")
    host = host.lower()
    return entry == "*" or host == name.lstrip(".") or host.endswith(name if name.startswith(".") else "." + name)


def _tool_trust(env: Mapping[str, str], tool: Tool, ca: Path | None,
                expected: list[x509.Certificate] | None) -> list[tuple[Check, Path]]:
    names = tool.ca_variables if tool.each else next(((n,) for n in tool.ca_variables if env.get(n)),
                                                    tool.ca_variables[:1])
    results = []
    for name in names:
        value = env.get(name, "")
        label = f"{tool.label}: {name}"
        target = str(ca) if ca else "/path/to/llm-dlp/certs/" + (
            "llm-dlp-ca-bundle.pem" if tool.replaces_roots else "mitmproxy-ca-cert.pem")
        fix = f"export {name}={target}"
        if tool.replaces_roots:
            fix += "\n(a bundle with the public roots and the proxy's CA: the proxy writes llm-dlp-ca-bundle.pem)"
        path = Path(value)
        if not value:
            check = Check(label, False, "not set: the proxy's certificates will be refused", fix)
        elif not path.is_file():
            check = Check(label, False, f"{value} does not exist", fix)
        else:
            check = _trust_file(label, path, tool, expected, fix)
        results.append((check, path))
    return results


def _trust_file(label: str, path: Path, tool: Tool, expected: list[x509.Certificate] | None, fix: str) -> Check:
    try:
        held = _certificates(path)
    except (OSError, ValueError) as exc:
        return Check(label, False, f"{path}: not a PEM certificate file ({exc})", fix)
    if not held:
        return Check(label, False, f"{path} holds no certificate", fix)
    if expected is not None and not any(cert in held for cert in expected):
        return Check(label, False, f"{path} does not hold the proxy's CA certificate", fix)
    if tool.replaces_roots and len(held) < 2:
        return Check(label, False, f"{path} holds one certificate and replaces the public roots: every other "
                                   "HTTPS request of this tool will fail", fix)
    return Check(label, True, f"{path} ({len(held)} certificate(s))")


def _through_proxy(proxy_url: str, url: str, ca_file: Path | None, timeout: float) -> Check:
    name = f"request to {urlsplit(url).hostname} through the proxy"
    address = _address(proxy_url)
    try:
        socket.create_connection(address, timeout=timeout).close()
    except OSError as exc:
        return Check(name, False, f"cannot connect to the proxy {address[0]}:{address[1]} ({exc.strerror or exc})",
                     "start the proxy (llm-dlp run), or correct the host and port in HTTPS_PROXY; "
                     "a firewall may block the port")
    if ca_file is None:
        return Check(name, False, "no CA file to verify the proxy's certificates with",
                     "set the CA variables above, or pass --ca /path/to/mitmproxy-ca-cert.pem")
    # Only the proxy's CA is trusted here: a certificate that verifies was made by this proxy,
    # so the host is intercepted and scanned, not tunnelled past it.
    context = ssl.create_default_context(cafile=str(ca_file))
    try:
        with httpx.Client(proxy=proxy_url, verify=context, timeout=timeout, trust_env=False) as client:
            answer = client.get(url)
    except httpx.ProxyError as exc:
        if "407" in str(exc):
            return _proxy_login_check(name)
        return Check(name, False, f"the proxy refused the tunnel ({exc})",
                     "check HTTPS_PROXY names the llm-dlp proxy or its load balancer")
    except httpx.ConnectError as exc:
        if "CERTIFICATE_VERIFY_FAILED" in str(exc) or isinstance(exc.__cause__, ssl.SSLError):
            return Check(name, False, f"the certificate for {urlsplit(url).hostname} is not from the CA in {ca_file}",
                         f"either the CA file is not this proxy's (take mitmproxy-ca-cert.pem from its --confdir), "
                         f"or the proxy does not intercept {urlsplit(url).hostname} (add --intercept-host)")
        return Check(name, False, f"no connection through the proxy ({exc})",
                     "the proxy may not reach the internet: check its upstream network")
    except httpx.HTTPError as exc:
        return Check(name, False, f"{type(exc).__name__}: {exc}", "look at the proxy's console and log")
    if answer.status_code == 407:
        return _proxy_login_check(name)
    return Check(name, True, f"answered {answer.status_code}, with a certificate from the proxy's CA ({ca_file})")


def _proxy_login_check(name: str) -> Check:
    return Check(name, False, "the proxy wants a login (407)",
                 "export HTTPS_PROXY=http://USER:PASSWORD@PROXY-HOST:PORT (the credentials of the proxy's users file)")


def _certificates(path: Path) -> list[x509.Certificate]:
    data = Path(path).read_bytes()
    if PEM_MARKER not in data:
        return []
    with warnings.catch_warnings():  # a few public roots in certifi's bundle have non-positive serials
        warnings.simplefilter("ignore")
        return x509.load_pem_x509_certificates(data)


def _address(proxy_url: str) -> tuple[str, int]:
    parts = urlsplit(proxy_url if "://" in proxy_url else "http://" + proxy_url)
    return (parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))


def _shown(proxy_url: str) -> str:
    """The proxy URL without a password: the report may be pasted into a ticket."""
    parts = urlsplit(proxy_url if "://" in proxy_url else "http://" + proxy_url)
    if parts.password is None:
        return proxy_url
    return proxy_url.replace(f":{parts.password}@", ":***@", 1)
