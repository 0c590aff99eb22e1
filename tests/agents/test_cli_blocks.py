"""The real agent CLIs meet a block: they show llm-dlp's message and do not send the request again.

Each CLI, configured as the README says, goes through the real proxy (bundled policies) to the
stand-in, whose scripted model asks it to read notes.txt. The file holds a private key, which
the bundled policy blocks, so the second turn (carrying the tool result) is refused. Skipped,
with the reason, for a CLI that scripts/test-services.sh has not installed.
"""

from __future__ import annotations

import pytest

from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.agentscript import AgentScript
from tests.agents import clients

BLOCKED = "llm-dlp blocked this request"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A tenant that blocks private keys outright (the bundled default withholds the tool result
    and lets the session go on; what each client shows for a block is what is tested here)."""
    root = tmp_path_factory.mktemp("agents")
    policies = clients.blocking_policies(root / "policies")
    with clients.stack(root, policy_dir=policies) as running:
        yield running


@pytest.fixture
def session(stack, tmp_path):
    """A project whose notes.txt holds a private key; the scripted model asks to read it."""
    pem = make.private_key_pem()
    (tmp_path / "notes.txt").write_text(f"deploy key for the build box:\n{pem}")
    stack.provider.clear()
    stack.provider.agent = AgentScript(str(tmp_path / "notes.txt"))
    return tmp_path, pem


def needs(cli: clients.Cli):
    """Skip before the proxy starts when the CLI is missing."""
    return pytest.mark.skipif(not cli.installed(), reason=cli.skip_reason())


def run_blocked(stack, session, cli: clients.Cli) -> tuple[clients.Run, list[dict]]:
    project, pem = session
    before = len(stack.proxy.decisions())
    result = clients.run(cli, project, stack.environment(cli))
    audit = stack.proxy.decisions()[before:]
    key_line = pem.splitlines()[1]
    upstream = [r for r in stack.provider.received if r.method == "POST"]
    assert upstream, "the first turn reached the stand-in"
    assert not any(key_line in r.text for r in upstream), "the private key reached the provider"
    blocks = [line for line in audit if line.get("decision") == "block"]
    assert len(blocks) == 1, f"one block, no retries: {[(l.get('path'), l.get('event'), l.get('decision')) for l in audit]}"
    assert result.returncode != 0
    assert "private-key" in result.output and BLOCKED in result.output
    assert key_line not in _messages(result.output)
    return result, audit


def _messages(output: str) -> str:
    """The lines that carry llm-dlp's message (Codex also echoes the tool's output locally)."""
    return "\n".join(line for line in output.splitlines() if BLOCKED in line)


@needs(clients.CLAUDE)
def test_claude_code_shows_the_block_and_stops(stack, session):
    result, _ = run_blocked(stack, session, clients.CLAUDE)
    assert f"API Error: 403 {BLOCKED}" in result.stdout
    assert "Failed to authenticate" not in result.output


@needs(clients.CODEX)
def test_codex_shows_the_block_without_reconnecting(stack, session):
    result, audit = run_blocked(stack, session, clients.CODEX)
    assert f"ERROR: {BLOCKED}" in result.output
    assert "Reconnecting" not in result.output
    # Its WebSocket attempt is refused once with 426, and it falls back to HTTPS at once.
    websocket = [line for line in audit if line.get("method") == "GET" and line.get("path", "").startswith("/v1/responses")]
    assert len(websocket) == 1


@needs(clients.GEMINI)
def test_gemini_cli_shows_the_block_and_stops(stack, session):
    result, _ = run_blocked(stack, session, clients.GEMINI)
    # Gemini CLI 0.61 prints the error body on this line, then "[object Object]" for any API
    # error in -p text mode (it throws a plain object); no body of ours changes that.
    assert "Error when talking to Gemini API" in result.stderr
    assert '"status":"PERMISSION_DENIED"' in result.stderr
