"""``llm-dlp run`` refuses worker and findings-cache options it cannot honour, before starting."""

from __future__ import annotations

import pytest

from addons.main import main


@pytest.mark.parametrize("options, message", [
    (["--workers", "-1"], "--workers"),
    (["--scan-cache-redis", "localhost:6379"], "--scan-cache-redis"),
    (["--admin-listen", "9464"], "--admin-listen"),
    (["--export-syslog", "siem:514"], "--export-syslog"),
    (["--export-splunk-hec", "splunk:8088"], "--export-splunk-hec"),
    (["--export-syslog", "tcp://siem:514", "--export-syslog-ca", "pyproject.toml"], "use --export-syslog tls://"),
    (["--export-syslog-ca", "pyproject.toml"], "needs --export-syslog tls://"),
    (["--export-syslog", "tls://siem:6514", "--export-syslog-ca", "no-such-ca.pem"], "no such file"),
    (["--upstream-ca", "no-such-ca.pem"], "--upstream-ca no-such-ca.pem: no such file"),
])
def test_bad_worker_and_cache_options_are_refused(options, message, capsys):
    assert main(["run", *options]) == 2
    assert message in capsys.readouterr().err
