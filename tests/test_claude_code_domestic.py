"""The real Claude Code CLI pointed at a domestic provider's Anthropic-compatible base URL
(``ANTHROPIC_BASE_URL=https://…/anthropic``) through the proxy: scanned, redacted, restored, in
the printed answer and in the files its Write tool puts on disk.

Claude Code comes from the npm registry, installed by ``scripts/test-services.sh`` into
``.agents/`` (``LLM_DLP_AGENTS`` moves it); without it the test is skipped.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.agentscript import AgentScript
from llm_dlp.testing.proxyrun import REPO, copy_policies, start_proxy
from llm_dlp.testing.standin import StandInProvider

CLAUDE = Path(os.environ.get("LLM_DLP_AGENTS", REPO / ".agents")) / "node_modules" / ".bin" / "claude"
POLICY = "rules:\n  - kind: secret\n    action: redact\n"

pytestmark = pytest.mark.skipif(not CLAUDE.exists(), reason=f"Claude Code is not installed at {CLAUDE} "
                                "(scripts/test-services.sh installs it from the npm registry)")


def _environment(home: Path, proxy_url: str, proxy_ca: Path, base_url: str) -> dict[str, str]:
    home.mkdir()
    return {
        "PATH": f"{Path(os.environ.get('NODE', '/usr/bin/node')).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home), "TERM": "dumb", "HTTPS_PROXY": proxy_url, "NO_PROXY": "",
        "NODE_EXTRA_CA_CERTS": str(proxy_ca),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": "sk-dummy-key-for-tests",
        "ANTHROPIC_MODEL": "echo", "ANTHROPIC_SMALL_FAST_MODEL": "echo",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
    }


def test_claude_code_through_a_prefixed_anthropic_endpoint_is_scanned_and_restored(tmp_path, test_ca):
    domestic = StandInProvider(test_ca, "claude-domestic", prefix="/anthropic")
    proxy = start_proxy(tmp_path / "proxy", intercept=[f"localhost:{domestic.port}=deepseek"], upstream_ca=test_ca.cert_path,
                        policy_dir=copy_policies(tmp_path / "policies", default=POLICY))
    try:
        key_id = make.aws_access_key_id()
        env = _environment(tmp_path / "home", proxy.url, proxy.ca_cert, f"{domestic.base_url}/anthropic")
        done = subprocess.run([str(CLAUDE), "-p", f"Repeat this line exactly: deploy key {key_id}"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
        messages = [r for r in domestic.received if r.path.split("?")[0] == "/anthropic/v1/messages"]
        assert messages, f"no request reached the stand-in: {done.stdout}{done.stderr}"
        assert all(key_id not in r.text for r in domestic.received)  # scanned and redacted on the way out
        assert any("[[secret:" in r.text for r in messages)
        assert key_id in done.stdout  # the echoed answer carries the restored value
        decisions = [line for line in proxy.audit_lines() if "decision" in line]
        assert any(line["decision"] == "redact" and line["region"] == "mainland" for line in decisions)
    finally:
        proxy.stop()
        domestic.close()


def test_claude_code_write_tool_puts_the_restored_value_on_disk(tmp_path, test_ca):
    """The model only ever sees a placeholder; it answers with a Write of that placeholder, the
    proxy restores the tool call's input, and Claude Code writes the real value to the project."""
    domestic = StandInProvider(test_ca, "claude-domestic", prefix="/anthropic")
    project = tmp_path / "project"
    project.mkdir()
    target = project / "deploy.env"
    domestic.agent = AgentScript(str(target), answer="Saved the key to deploy.env.", write=True)
    proxy = start_proxy(tmp_path / "proxy", intercept=[f"localhost:{domestic.port}=deepseek"], upstream_ca=test_ca.cert_path,
                        policy_dir=copy_policies(tmp_path / "policies", default=POLICY))
    try:
        key_id = make.aws_access_key_id()
        env = _environment(tmp_path / "home", proxy.url, proxy.ca_cert, f"{domestic.base_url}/anthropic")
        # acceptEdits: file writes inside the working directory run without a permission prompt.
        done = subprocess.run([str(CLAUDE), "-p", "--permission-mode", "acceptEdits",
                               f"Save this to deploy.env: AWS_ACCESS_KEY_ID={key_id}"], cwd=project, env=env,
                              capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
        output = done.stdout + done.stderr
        messages = [r for r in domestic.received if r.path.split("?")[0] == "/anthropic/v1/messages"]
        assert all(key_id not in r.text for r in domestic.received), output  # nor in the Write it echoed back
        asked = [r for r in messages if "[[secret:" in r.text and '"tool_result"' not in r.text]
        assert asked, f"no redacted prompt reached the stand-in: {output}"
        followed = [r for r in messages if '"tool_result"' in r.text]
        assert followed, f"Claude Code did not run the Write and report back: {output}"
        assert '"name":"Write"' in followed[-1].text.replace(" ", "")  # its history holds the (re-redacted) call
        assert target.exists(), f"Claude Code wrote no file: {output}"
        written = target.read_text()
        assert key_id in written and "[[secret:" not in written
        assert written.strip() == f"Save this to deploy.env: AWS_ACCESS_KEY_ID={key_id}"
        assert "Saved the key to deploy.env." in done.stdout
        decisions = [line for line in proxy.audit_lines() if "decision" in line]
        assert any(line["decision"] == "redact" and line["region"] == "mainland" for line in decisions)
    finally:
        proxy.stop()
        domestic.close()
