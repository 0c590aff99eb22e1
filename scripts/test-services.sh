#!/usr/bin/env bash
# Install services the test suite needs. Nothing yet beyond Python packages; later issues
# (Redis for the shared vault, Chromium for the audit report) add theirs here.
set -euo pipefail
exit 0
