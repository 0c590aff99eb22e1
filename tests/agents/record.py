"""Re-record tests/data/agents/: what each real agent CLI sends upstream in a short session.

    .venv/bin/python -m tests.agents.record            # all installed CLIs
    .venv/bin/python -m tests.agents.record codex      # one

Each CLI runs one prompt through the real proxy (bundled policies) to the stand-in provider,
whose scripted model asks it to read ``notes.txt`` with its own tool and then answers. Every
model request that arrives at the stand-in is saved: ``<cli>-turn<N>.json`` for the agent's
turns (N=1 carries the system prompt and tool list, N=2 also the tool call and its result),
``<cli>-side<N>.json`` for requests the CLI makes on its own (Gemini CLI's model router).
The session runs in a fixed directory so paths in the bodies are the same on every machine.

``--variants`` records the same session with another model or mode per CLI and another prompt
(``VARIANTS``, ``VARIANT_PROMPT``) into tests/data/agents-variants/: system prompts and tool
lists the detectors were not tuned on, to check that their precision generalises.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from llm_dlp.testing.agentscript import AgentScript, offered_tools
from llm_dlp.testing.standin import Received, api_of
from tests.agents import clients

OUT = clients.REPO / "tests" / "data" / "agents"
VARIANTS_OUT = clients.REPO / "tests" / "data" / "agents-variants"
# Options that change what each CLI sends: another model (Codex's and Gemini CLI's prompts
# depend on it) or approval mode.
VARIANTS = {
    "claude-code": ("--model", "haiku"),
    "codex": ("-m", "gpt-5.5"),
    "gemini-cli": ("-m", "gemini-2.5-flash", "--approval-mode", "auto_edit"),
}
VARIANT_PROMPT = "Summarise notes.txt from this folder in one line, please."
SESSION = Path("/tmp/llm-dlp-agent-session")
# Credentials and connection plumbing; the rest (API versions, betas, user agent) stays.
DROP_HEADERS = {"authorization", "x-api-key", "x-goog-api-key", "cookie", "host", "content-length",
                "connection", "accept-encoding", "proxy-authorization"}


def record(cli: clients.Cli, out: Path = OUT, prompt: str = clients.PROMPT, options: tuple[str, ...] = ()) -> list[Path]:
    root = SESSION / cli.name
    shutil.rmtree(root, ignore_errors=True)
    with clients.stack(root) as running:
        project = root / "project"
        project.mkdir()
        (project / "notes.txt").write_text(clients.NOTE)
        running.provider.agent = AgentScript(str(project / "notes.txt"))
        result = clients.run(cli, project, running.environment(cli), prompt, options=options)
        if result.returncode != 0 or AgentScript(str(project)).answer not in result.stdout:
            raise RuntimeError(f"{cli.name} did not finish the session (exit {result.returncode}):\n{result.output}")
        model_requests = [r for r in running.provider.received if r.method == "POST" and api_of(_route(r)) is not None]
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob(f"{cli.name}-*.json"):
        old.unlink()
    written, turns, sides = [], 0, 0
    for request in model_requests:
        api = api_of(_route(request))
        agent_turn = bool(offered_tools(api, _unwrapped(request.json())))
        turns, sides = (turns + 1, sides) if agent_turn else (turns, sides + 1)
        path = out / f"{cli.name}-{'turn' if agent_turn else 'side'}{turns if agent_turn else sides}.json"
        path.write_text(json.dumps(_fixture(cli, api, request), indent=1, ensure_ascii=False) + "\n")
        written.append(path)
    return written


def _fixture(cli: clients.Cli, api: str, request: Received) -> dict:
    return {
        "cli": cli.name,
        "version": clients.VERSIONS[cli.name],
        "api": api,
        "method": request.method,
        "path": request.path,
        "headers": {k.lower(): v for k, v in request.headers.items() if k.lower() not in DROP_HEADERS},
        "body": request.json(),
    }


def _route(request: Received) -> str:
    return request.path.split("?", 1)[0]


def _unwrapped(body: dict) -> dict:
    return body["request"] if isinstance(body.get("request"), dict) else body


def main(names: list[str]) -> int:
    variants = "--variants" in names
    names = [name for name in names if name != "--variants"]
    chosen = [c for c in clients.ALL if not names or c.name in names or c.binary in names]
    for cli in chosen:
        if not cli.installed():
            print(f"skip: {cli.skip_reason()}")
            continue
        written = record(cli, VARIANTS_OUT, VARIANT_PROMPT, VARIANTS[cli.name]) if variants else record(cli)
        for path in written:
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
