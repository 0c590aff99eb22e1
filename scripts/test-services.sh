#!/usr/bin/env bash
# Install the programs the test suite needs beyond Python packages (Debian packages; CI runs as
# root). Tests start and stop their own instances; nothing here stays running.
set -euo pipefail

# Chromium renders the audit HTML report headless in tests/test_audit_report.py.
if [ ! -x /usr/bin/chromium ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
fi
# redis-server backs the shared placeholder vault in tests/test_vault*.py; the tests start
# their own private instance on a free port, so only the binary is needed.
if [ ! -x /usr/bin/redis-server ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server
fi
exit 0
