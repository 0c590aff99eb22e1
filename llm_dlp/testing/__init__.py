"""Test harness shared by the test suite and the benchmarks: a stand-in AI provider over TLS,
a proxy runner, and factories for fake secrets.

It lives in the package (as ``mitmproxy.test`` does in mitmproxy's) so that ``tests/`` and
``bench/`` both depend on it and never on each other. Nothing in the proxy imports it.
"""
