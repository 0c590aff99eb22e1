#!/usr/bin/env bash
# Create or update .venv in the repository root with llm-dlp installed (editable).
# Re-installs only when pyproject.toml changed since the last successful install.
set -euo pipefail
cd "$(dirname "$0")/.."

extras="${1:-}"            # "" for the proxy, "test" for the test suite
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
    if command -v pyenv >/dev/null 2>&1 && pyenv which python >/dev/null 2>&1; then
        python="$(pyenv which python)"          # honours .python-version (3.12)
    else
        python="$(command -v python3.12 || command -v python3)"
    fi
fi

if [[ ! -x .venv/bin/python ]]; then
    echo "bootstrap: creating .venv with $("$python" --version)" >&2
    "$python" -m venv .venv
fi

stamp=".venv/.llm-dlp-installed${extras:+-$extras}"
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
    echo "bootstrap: installing llm-dlp${extras:+[$extras]} into .venv" >&2
    spec="."
    [[ -n "$extras" ]] && spec=".[$extras]"
    .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
    .venv/bin/python -m pip install --quiet -e "$spec"
    touch "$stamp"
fi
