#!/usr/bin/env bash
# Create or update .venv in the repository root from the lock file, with llm-dlp installed
# (editable). Every installed version comes from requirements/<set>.txt, checked against its
# sha256 (pip --require-hashes), and the build backend comes from the lock too.
#
#   scripts/bootstrap.sh         # the proxy:      requirements/run.txt
#   scripts/bootstrap.sh test    # the tests:      requirements/test.txt
#   scripts/bootstrap.sh bench   # the benchmarks: requirements/bench.txt
#
# Re-installs only when that lock file changed since the last successful install.
set -euo pipefail
cd "$(dirname "$0")/.."

set_name="${1:-run}"
lock="requirements/$set_name.txt"
[[ -f "$lock" ]] || { echo "bootstrap: no lock file $lock" >&2; exit 2; }

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

stamp=".venv/.llm-dlp-lock-$set_name"
digest="$(sha256sum "$lock" pyproject.toml | sha256sum | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$digest" ]]; then
    echo "bootstrap: installing $lock into .venv" >&2
    # --isolated: the lock alone says what is installed, not a machine's pip.conf (extra indexes,
    # find-links of locally built wheels whose hashes would not match). A CA bundle the machine
    # names for TLS is still honoured.
    pip=(.venv/bin/python -m pip --isolated --disable-pip-version-check --quiet --timeout 120)
    cert="${PIP_CERT:-${SSL_CERT_FILE:-}}"
    [[ -n "$cert" && -f "$cert" ]] && pip+=(--cert "$cert")
    "${pip[@]}" install --require-hashes -r "$lock"
    "${pip[@]}" install --no-deps --no-build-isolation --no-index -e .
    echo "$digest" > "$stamp"
fi
