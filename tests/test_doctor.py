"""``llm-dlp doctor`` against the real proxy (and the stand-in provider it intercepts), with a good
client environment and with each thing a rollout gets wrong: every problem is named with its fix,
and the exit code says whether anything is wrong."""

from __future__ import annotations


import pytest

from llm_dlp.cli import main
from llm_dlp.doctor import TOOLS, diagnose
from llm_dlp.testing.proxyrun import free_port
from llm_dlp.testing.standin import TestCA as ThrowawayCA


@pytest.fixture
def good_env(proxy):
    bundle = proxy.confdir / "llm-dlp-ca-bundle.pem"
    assert bundle.is_file()
    return {
        "HTTPS_PROXY": proxy.url,
        "https_proxy": proxy.url,
        "NODE_EXTRA_CA_CERTS": str(proxy.ca_cert),
        "CODEX_CA_CERTIFICATE": str(proxy.ca_cert),
        "SSL_CERT_FILE": str(bundle),
        "REQUESTS_CA_BUNDLE": str(bundle),
        "NO_PROXY": "localhost.internal,.corp.example",
    }


def _failed(checks) -> dict[str, str]:
    return {c.name: f"{c.detail} | {c.fix}" for c in checks if not c.ok}


def test_a_good_environment_passes_with_a_real_request_through_the_proxy(proxy, provider, good_env, monkeypatch, capsys):
    received_before = len(provider.received)
    checks = diagnose(good_env, url=f"{provider.base_url}/v1/models")
    assert _failed(checks) == {}
    assert len(checks) == 2 + 5 + 1  # proxy variable, NO_PROXY, five CA variables over four tools, the request
    assert len(provider.received) > received_before  # the request really reached the provider, via the proxy

    for name in ("HTTPS_PROXY", "https_proxy", "NODE_EXTRA_CA_CERTS", "CODEX_CA_CERTIFICATE", "SSL_CERT_FILE",
                 "REQUESTS_CA_BUNDLE", "NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in good_env.items():
        monkeypatch.setenv(name, value)
    assert main(["doctor", "--url", f"{provider.base_url}/v1/models", "--ca", str(proxy.ca_cert)]) == 0
    assert "everything checked is in order" in capsys.readouterr().out


def test_missing_proxy_variable_and_ca_variables_are_named_with_fixes(proxy, provider, good_env):
    env = {k: v for k, v in good_env.items() if k not in ("HTTPS_PROXY", "https_proxy", "NODE_EXTRA_CA_CERTS")}
    failed = _failed(diagnose(env, url=f"{provider.base_url}/v1/models", proxy=proxy.url))
    assert "export HTTPS_PROXY=" + proxy.url in failed["HTTPS_PROXY"]
    assert "export NODE_EXTRA_CA_CERTS=" in failed["Claude Code: NODE_EXTRA_CA_CERTS"]
    assert "export NODE_EXTRA_CA_CERTS=" in failed["Gemini CLI: NODE_EXTRA_CA_CERTS"]
    assert set(failed) == {"HTTPS_PROXY", "Claude Code: NODE_EXTRA_CA_CERTS", "Gemini CLI: NODE_EXTRA_CA_CERTS"}


def test_no_proxy_that_bypasses_the_ai_host_is_a_problem(proxy, provider, good_env):
    env = {**good_env, "no_proxy": "github.com, localhost"}
    failed = _failed(diagnose(env, url=f"{provider.base_url}/v1/models"))
    assert set(failed) == {"NO_PROXY"} and "remove localhost" in failed["NO_PROXY"]


def test_python_needs_a_bundle_not_the_bare_ca(proxy, provider, good_env, tmp_path):
    env = {**good_env, "SSL_CERT_FILE": str(proxy.ca_cert), "REQUESTS_CA_BUNDLE": str(tmp_path / "missing.pem")}
    failed = _failed(diagnose(env, [t for t in TOOLS if t.key == "python"], url=f"{provider.base_url}/v1/models"))
    assert "replaces the public roots" in failed["Python SDKs (httpx, requests): SSL_CERT_FILE"]
    assert "does not exist" in failed["Python SDKs (httpx, requests): REQUESTS_CA_BUNDLE"]


def test_a_ca_that_is_not_the_proxys_fails_the_request_and_the_expected_ca_check(proxy, provider, good_env, tmp_path):
    stranger = ThrowawayCA(tmp_path / "stranger")
    env = {**good_env, "NODE_EXTRA_CA_CERTS": str(stranger.cert_path)}
    failed = _failed(diagnose(env, url=f"{provider.base_url}/v1/models"))
    request = next(name for name in failed if name.startswith("request to"))
    assert "not from the CA" in failed[request] and "--confdir" in failed[request]
    failed = _failed(diagnose(env, url=f"{provider.base_url}/v1/models", ca=proxy.ca_cert))
    assert "does not hold the proxy's CA" in failed["Claude Code: NODE_EXTRA_CA_CERTS"]
    assert not any(name.startswith("request to") for name in failed)  # --ca is the proxy's: the request works


def test_a_proxy_that_is_not_running(good_env, provider, tmp_path, capsys, monkeypatch):
    down = f"http://127.0.0.1:{free_port()}"
    env = {**good_env, "HTTPS_PROXY": down, "https_proxy": down}
    failed = _failed(diagnose(env, url=f"{provider.base_url}/v1/models"))
    request = next(name for name in failed if name.startswith("request to"))
    assert "cannot connect to the proxy" in failed[request] and "llm-dlp run" in failed[request]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["doctor", "--url", f"{provider.base_url}/v1/models"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "fix:" in out and "1 problem(s) found" in out


def test_a_host_the_proxy_does_not_intercept_is_reported(proxy, good_env, tmp_path):
    """A TLS server the proxy only tunnels: its real certificate is not from the proxy's CA."""
    from llm_dlp.testing.standin import StandInProvider

    other = StandInProvider(ThrowawayCA(tmp_path / "other-ca"), "not-intercepted")
    try:
        failed = _failed(diagnose(good_env, url=f"{other.base_url}/v1/models"))
    finally:
        other.close()
    request = next(name for name in failed if name.startswith("request to"))
    assert "--intercept-host" in failed[request]


def test_proxy_passwords_are_not_printed(good_env):
    env = {**good_env, "HTTPS_PROXY": "http://alice:s3cret@127.0.0.1:1", "https_proxy": "http://alice:other@127.0.0.1:2"}
    report = [c for c in diagnose(env, [], url="https://api.anthropic.com/", timeout=1) if c.name == "HTTPS_PROXY"]
    assert "s3cret" not in report[0].detail and "alice:***@" in report[0].detail
