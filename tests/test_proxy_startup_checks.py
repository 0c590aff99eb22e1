"""No silent off: `llm-dlp run` refuses to start when a policy needs a detector that has nothing to
work with, unless the operator asks to run without it; then it says so loudly."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from llm_dlp.testing.proxyrun import LLM_DLP, copy_policies, free_port, start_proxy

NEEDS_INDEX = """
rules:
  - kind: secret
    action: redact
  - kind: proprietary_code
    min_lines: 21
    action: block
"""


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LLM_DLP), "run", "--confdir", str(cwd / "certs"), "--listen-port", str(free_port()), *args],
        cwd=cwd, capture_output=True, text=True, timeout=120,
    )


def test_a_proprietary_code_rule_without_an_index_stops_the_start(tmp_path):
    policies = copy_policies(tmp_path / "policies", default=NEEDS_INDEX)
    result = _run("--policy-dir", str(policies), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("llm-dlp: refusing to start: detector 'proprietary_code':")
    assert f"the code index in {tmp_path / 'code-index'} does not exist" in result.stderr
    assert f"{policies / 'default.yaml'}:5" in result.stderr
    assert "--allow-missing-index" in result.stderr and "listening" not in result.stdout


def test_an_index_dir_that_does_not_exist_is_an_error(tmp_path):
    result = _run("--index-dir", str(tmp_path / "typo"), cwd=tmp_path)
    assert result.returncode == 2
    assert f"the code index directory {tmp_path / 'typo'} does not exist" in result.stderr


def test_allow_missing_index_starts_with_a_loud_warning(tmp_path, test_ca):
    policies = copy_policies(tmp_path / "policies", default=NEEDS_INDEX)
    running = start_proxy(tmp_path / "run", intercept=[], upstream_ca=test_ca.cert_path, policy_dir=policies,
                          extra_args=["--allow-missing-index"])
    try:
        log = running.log_path.read_text()
        assert "WARNING: proprietary_code findings will NOT be detected (--allow-missing-index)" in log
        assert f"{policies / 'default.yaml'}:5" in log
    finally:
        running.stop()


def test_with_a_built_index_the_same_policy_starts(tmp_path, test_ca):
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(Path(json.__file__).parent / "decoder.py", source)
    index_dir = tmp_path / "index"
    built = subprocess.run([str(LLM_DLP), "index", "build", "--name", "core", "--index-dir", str(index_dir),
                            "--no-progress", str(source)], capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    policies = copy_policies(tmp_path / "policies", default=NEEDS_INDEX)
    running = start_proxy(tmp_path / "run", intercept=[], upstream_ca=test_ca.cert_path, policy_dir=policies,
                          extra_args=["--index-dir", str(index_dir)])
    try:
        assert "WARNING" not in running.log_path.read_text()
    finally:
        running.stop()
