"""The Docker image's entry command, run the way the image would run it, without a container engine.

No engine can run a container on these machines (README, Docker), so this builds what the
Dockerfile builds in a virtual environment of its own: ``pip install --require-hashes -r
requirements/run.txt``, then the project copied as the Dockerfile copies it and installed with
``pip install --no-deps --no-build-isolation --no-index .``; then it runs the Dockerfile's
ENTRYPOINT word for word, with only the ``/data`` and ``/app`` paths and the port moved into a
scratch directory, in an environment holding nothing but PATH and HOME, and sends a request
through it. The environment with the locked dependencies is kept between runs under
``~/.cache/llm-dlp`` (keyed by the lock's hash, so a changed lock builds a new one); the project
is installed afresh every run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from llm_dlp.testing.proxyrun import free_port, wait_for_port, wait_until

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "llm-dlp"


def _dockerfile() -> tuple[list[str], list[tuple[str, str]]]:
    """The ENTRYPOINT, and the COPY steps (source, destination under /app) in order."""
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    entry = json.loads(re.search(r"^ENTRYPOINT (\[.*\])", text, re.MULTILINE).group(1))
    copies = [tuple(line.split()[1:]) for line in text.splitlines() if line.startswith("COPY ")]
    return entry, [(" ".join(c[:-1]), c[-1]) for c in copies]


def _locked_environment() -> Path:
    lock = REPO / "requirements" / "run.txt"
    venv = CACHE / f"image-venv-{hashlib.sha256(lock.read_bytes()).hexdigest()[:16]}"
    if not (venv / ".complete").exists():
        for stale in CACHE.glob("image-venv-*"):  # built from an older lock: about 700 MB each
            shutil.rmtree(stale, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--require-hashes", "-r", str(lock)], check=True, timeout=1800)
        (venv / ".complete").touch()
    return venv


@pytest.mark.timeout(2400)  # the first run on a machine installs the locked dependencies (about 5 min)
def test_the_image_entry_command_serves_a_request_from_a_clean_environment(tmp_path, provider, test_ca):
    entry, copies = _dockerfile()
    venv = _locked_environment()
    app = tmp_path / "app"
    app.mkdir()
    for sources, destination in copies:  # COPY as the Dockerfile does, into the image's WORKDIR
        for source in sources.split():
            path = REPO / source
            target = app / destination / path.name if destination.endswith("/") else app / destination
            if path.is_dir():
                shutil.copytree(path, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, target)
    # The project's own install step, afresh: the venv holds only the lock until now.
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--force-reinstall", "--no-deps", "--no-build-isolation", "--no-index", "."],
                   cwd=app, check=True, timeout=600, env={"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)})

    data = tmp_path / "data"
    for name in ("certs", "audit", "index"):
        (data / name).mkdir(parents=True)
    port = free_port()
    argv = [a.replace("/data/", f"{data}/").replace("/app/", f"{app}/") for a in entry]
    argv[argv.index("--listen-port") + 1] = str(port)
    assert argv[0] == "llm-dlp" and shutil.which("llm-dlp", path=str(venv / "bin"))
    argv[0] = str(venv / "bin" / "llm-dlp")
    # What an operator appends (docker run … IMAGE ARGS): no code index here, and the stand-in provider.
    argv += ["--allow-missing-index", "--intercept-host", f"localhost:{provider.port}", "--upstream-ca",
             str(test_ca.cert_path), "--workers", "0"]
    log = tmp_path / "entry.log"
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    with open(log, "w") as handle:
        process = subprocess.Popen(argv, cwd=app, env=env, stdout=handle, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, log, timeout=120)
        ca = data / "certs" / "mitmproxy-ca-cert.pem"
        with httpx.Client(proxy=f"http://127.0.0.1:{port}", verify=str(ca), timeout=60) as client:
            answer = client.post(f"{provider.base_url}/v1/messages", json={
                "model": "claude-test", "max_tokens": 5, "messages": [{"role": "user", "content": "hello"}]})
        assert answer.status_code == 200, answer.text
        audit = data / "audit" / "llm-dlp-audit.jsonl"
        wait_until(lambda: audit.exists() and '"dlp.decision"' in audit.read_text())
    finally:
        process.terminate()
        process.wait(timeout=30)
    installed = subprocess.run([str(venv / "bin" / "python"), "-c", "import llm_dlp, addons; print(llm_dlp.__file__)"],
                               cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout
    assert str(venv) in installed  # the package the entry command ran is the installed one, not the source tree
    decision = next(json.loads(line) for line in audit.read_text().splitlines() if '"dlp.decision"' in line)
    assert decision["decision"] == "allow" and decision["host"] == "localhost"
