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
# HAProxy fronts two proxy instances in TCP mode in tests/test_fleet.py (the scale-out a fleet
# runs); the test writes its own configuration and starts its own haproxy.
if [ ! -x /usr/sbin/haproxy ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy
fi
# The coding-agent CLIs tests/agents runs through the proxy (Claude Code, Codex, Gemini CLI):
# the versions and hashes locked in tests/agents/package-lock.json, from the npm registry, into
# .agents/ (gitignored; LLM_DLP_AGENTS moves it). Install scripts stay off except Claude Code's
# own, which links its native binary. Needs Node >= 20 and npm; without them the tests skip.
# About 900 MB of native binaries; ~25 s here, and nothing when the lock has not changed.
REPO="$(cd "$(dirname "$0")/.." && pwd)"
AGENTS="${LLM_DLP_AGENTS:-$REPO/.agents}"
if ! command -v npm >/dev/null || ! node -e 'process.exit(+process.versions.node.split(".")[0] < 20 ? 1 : 0)'; then
    echo "test-services: Node >= 20 with npm not found; the agent CLI tests (tests/agents) will be skipped" >&2
elif ! cmp -s "$REPO/tests/agents/package-lock.json" "$AGENTS/package-lock.json" \
        || [ ! -x "$AGENTS/node_modules/.bin/claude" ]; then
    mkdir -p "$AGENTS"
    cp "$REPO/tests/agents/package.json" "$REPO/tests/agents/package-lock.json" "$AGENTS/"
    npm ci --prefix "$AGENTS" --ignore-scripts --no-audit --no-fund --loglevel=error
    node "$AGENTS/node_modules/@anthropic-ai/claude-code/install.cjs"
fi
exit 0
