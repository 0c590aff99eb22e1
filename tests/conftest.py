"""Shared fixtures, and the rule that splits the suite into a fast and a slow tier.

A test is ``slow`` when it starts a process or a service: the real proxy, the stand-in provider,
Redis, Chromium, the CLI in a subprocess, an agent CLI. Everything else (detectors, policy,
formats, addons driven by mitmproxy's ``taddons``) is the fast tier: ``pytest -m "not slow"``.
The rule is applied here, from what a test uses, so a new end-to-end test cannot land in the
fast tier by forgetting a marker.
"""

from __future__ import annotations

import functools
import inspect

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


PROCESS_FIXTURES = frozenset({"proxy", "provider", "received", "test_ca"})
# What a test module calls when it starts a process or a service of its own.
PROCESS_CALLS = ("start_proxy(", "subprocess.", "running_redis(", "chromium", "StandInProvider(")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: starts a process or a service (see tests/conftest.py)")


@functools.cache
def _module_starts_processes(module) -> bool:
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError):
        return False
    return any(call in source for call in PROCESS_CALLS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        uses_process = PROCESS_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if uses_process or _module_starts_processes(item.module):
            item.add_marker(pytest.mark.slow)
