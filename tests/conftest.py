from __future__ import annotations


import pytest

from llm_dlp.testing.proxyrun import RunningProxy, start_proxy
from llm_dlp.testing.standin import StandInProvider, TestCA


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("test-ca"))


@pytest.fixture(scope="session")
def provider(test_ca) -> StandInProvider:
    server = StandInProvider(test_ca, "provider")
    yield server
    server.close()


@pytest.fixture(scope="session")
def proxy(tmp_path_factory, provider, test_ca) -> RunningProxy:
    """The real proxy with the bundled policies, intercepting the stand-in provider."""
    running = start_proxy(
        tmp_path_factory.mktemp("proxy"),
        intercept=[f"localhost:{provider.port}"],
        upstream_ca=test_ca.cert_path,
    )
    yield running
    running.stop()


@pytest.fixture
def received(provider):
    provider.clear()
    return provider.received
