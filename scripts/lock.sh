#!/usr/bin/env bash
# Re-resolve the locked, hashed dependency sets in requirements/ from pyproject.toml.
#
# Run this after changing any dependency in pyproject.toml (tests/test_lock.py fails until you do):
#     scripts/lock.sh             # keep every pin that still satisfies pyproject.toml
#     scripts/lock.sh --upgrade   # take the newest release each specifier allows
#
# Why uv: it resolves all three sets in seconds and records the hash of every wheel and sdist of
# each pinned release, so the same lock installs on any Linux (the Docker image, CI, a laptop).
# Installing needs only pip (`pip install --require-hashes`), never uv.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.10
uv="$(command -v uv || true)"
if [[ -z "$uv" || "$("$uv" --version | cut -d' ' -f2)" != "$UV_VERSION" ]]; then
    tool_venv="${XDG_CACHE_HOME:-$HOME/.cache}/llm-dlp/uv-$UV_VERSION"
    if [[ ! -x "$tool_venv/bin/uv" ]]; then
        python3 -m venv "$tool_venv"
        "$tool_venv/bin/pip" install --quiet "uv==$UV_VERSION"
    fi
    uv="$tool_venv/bin/uv"
fi

upgrade=()
[[ "${1:-}" == "--upgrade" ]] && upgrade=(--upgrade)

header="$(python3 scripts/lock_header.py)"
compile() {  # compile OUT [uv pip compile args...]
    local out="$1"; shift
    local tmp; tmp="$(mktemp)"
    # Existing pins are kept (uv reads -o's previous content) unless --upgrade.
    [[ -f "$out" ]] && cp "$out" "$tmp"
    "$uv" pip compile --quiet --generate-hashes --no-header --python-version 3.12 \
        --python-platform x86_64-manylinux_2_28 "${upgrade[@]}" -o "$tmp" "$@"
    { echo "$header"; echo "# Regenerate with scripts/lock.sh; do not edit by hand."; cat "$tmp"; } > "$out"
    rm -f "$tmp"
}

# One resolution over everything, so the three sets below pin identical versions.
compile requirements/all.txt pyproject.toml --all-extras requirements/build.in
compile requirements/run.txt pyproject.toml requirements/build.in -c requirements/all.txt
compile requirements/test.txt pyproject.toml --extra test requirements/build.in -c requirements/all.txt
compile requirements/bench.txt pyproject.toml --extra bench --extra test requirements/build.in -c requirements/all.txt
rm -f requirements/all.txt
echo "lock: requirements/{run,test,bench}.txt updated" >&2
