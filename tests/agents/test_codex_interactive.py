"""Codex's interactive interface (its TUI, not ``codex exec``) through the proxy, in a pseudo-terminal.

The real ``codex`` runs full-screen on a pty (``terminal.py``), inline (``--no-alt-screen``),
without its background server (``--no-daemon``), never asking for approval and with a read-only
sandbox, logged in with a dummy API key as a user does (``codex login --with-api-key``). The
initial prompt asks it to read notes.txt; the stand-in's scripted model calls Codex's own shell
tool to ``cat`` it. notes.txt holds a private key:

- where the tenant blocks private keys, the turn carrying the tool result is refused: the
  interface shows llm-dlp's message, and Codex sends that request once (no "Reconnecting");
- with the bundled default, the tool result is withheld: the model reads a notice, the interface
  shows the model's answer, and the user's next prompt goes on in the same session, carrying the
  identical notice.

Skipped, with the reason, where scripts/test-services.sh has not installed the locked Codex.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.agentscript import AgentScript
from tests.agents import clients
from tests.agents.terminal import Terminal

pytestmark = pytest.mark.skipif(not clients.CODEX.installed(), reason=clients.CODEX.skip_reason())

BLOCKED = "llm-dlp blocked this request"
WITHHELD = "[llm-dlp withheld this tool result"
ANSWER = AgentScript("").answer
TURN_TIMEOUT = 120  # seconds for one model turn on a loaded machine: Codex starts its tools too


@pytest.fixture(scope="module")
def default_stack(tmp_path_factory):
    with clients.stack(tmp_path_factory.mktemp("codex-tui")) as running:
        yield running


@pytest.fixture(scope="module")
def blocking_stack(tmp_path_factory):
    """A tenant that blocks private keys outright (the bundled default withholds them)."""
    root = tmp_path_factory.mktemp("codex-tui-block")
    policies = clients.blocking_policies(root / "policies")
    with clients.stack(root, policy_dir=policies) as running:
        yield running


def open_codex(stack: clients.Stack, project: Path) -> tuple[Terminal, str]:
    """A user's first interactive session: log in with the API key, then ``codex PROMPT``; and a
    line of the private key in notes.txt."""
    pem = make.private_key_pem()
    (project / "notes.txt").write_text(f"deploy key for the build box:\n{pem}")
    stack.provider.clear()
    stack.provider.agent = AgentScript(str(project / "notes.txt"))
    env = stack.environment(clients.CODEX)
    login = subprocess.run([str(clients.CODEX.path), "login", "--with-api-key"], input=env["OPENAI_API_KEY"],
                           cwd=project, env=env, capture_output=True, text=True, timeout=60)
    assert login.returncode == 0, login.stderr
    terminal = Terminal([str(clients.CODEX.path), "--no-alt-screen", "--no-daemon", "--ask-for-approval", "never",
                         "--sandbox", "read-only", clients.PROMPT], cwd=project, env=env)
    return terminal, pem.splitlines()[1]


def model_requests(stack: clients.Stack) -> list:
    return [r for r in stack.provider.received if r.method == "POST" and r.path.endswith("/responses")]


def decided(stack: clients.Stack, before: int) -> list[dict]:
    return [line for line in stack.proxy.decisions()[before:] if line.get("method") == "POST"]


def test_a_block_is_shown_once_and_not_sent_again(blocking_stack, tmp_path):
    before = len(blocking_stack.proxy.decisions())
    terminal, key_line = open_codex(blocking_stack, tmp_path)
    try:
        terminal.wait_for(lambda: BLOCKED in terminal.text(), TURN_TIMEOUT, "llm-dlp's message")
        terminal.settle()
        shown = terminal.text()
        still_running = terminal.process.poll() is None
    finally:
        terminal.close()
    blocks = [line for line in decided(blocking_stack, before) if line["decision"] == "block"]
    assert len(blocks) == 1, [(line["path"], line["decision"]) for line in decided(blocking_stack, before)]
    # One line in the transcript: "■ llm-dlp blocked this request under policy 'default': secret
    # 'private-key' at $.input[8].output[1].text. Remove the data and try again."
    assert shown.count(BLOCKED) == 1 and "private-key" in shown
    assert "Reconnecting" not in shown and still_running  # the user is back at the prompt
    assert key_line not in "".join(r.text for r in model_requests(blocking_stack))


def test_a_withheld_tool_result_lets_the_session_go_on(default_stack, tmp_path):
    before = len(default_stack.proxy.decisions())
    terminal, key_line = open_codex(default_stack, tmp_path)
    try:
        terminal.wait_for(lambda: ANSWER in terminal.text(), TURN_TIMEOUT, "the model's first answer")
        terminal.settle()
        sent = len(model_requests(default_stack))
        mark = len(terminal.raw)
        terminal.type("Thanks. Is anything else in that folder?")
        terminal.wait_for(lambda: len(model_requests(default_stack)) > sent and ANSWER in terminal.text(mark),
                          TURN_TIMEOUT, "the answer to the second prompt")
        terminal.settle()
        still_running = terminal.process.poll() is None
    finally:
        terminal.close()
    assert still_running
    requests = model_requests(default_stack)
    assert not any(key_line in r.text for r in requests)
    lines = decided(default_stack, before)
    assert [line["decision"] for line in lines][-2:] == ["withhold", "withhold"]
    # The tool result the model read is llm-dlp's notice, the same in both turns that carry it.
    first, second = (_notice(r.json()) for r in requests[-2:])
    assert first.startswith(WITHHELD) and first == second
    assert "Thanks. Is anything else in that folder?" in requests[-1].text
    # The next turn re-sends the previous one's input unchanged, the notice included.
    earlier, later = requests[-2].json()["input"], requests[-1].json()["input"]
    assert later[: len(earlier)] == earlier


def _notice(body: dict) -> str:
    """The output of the tool call the model made, as it reached the provider."""
    [output] = [item["output"] for item in body["input"]
                if isinstance(item, dict) and item.get("type") in ("function_call_output", "custom_tool_call_output")]
    return output if isinstance(output, str) else "".join(part.get("text", "") for part in output)
