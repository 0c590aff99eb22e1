"""The real coding-agent CLIs, configured as a user would to go through llm-dlp to a provider.

``scripts/test-services.sh`` installs them, pinned, into ``.agents/`` at the repository root
(``LLM_DLP_AGENTS`` overrides the directory). Each runs one non-interactive prompt in a private
home directory with dummy API keys: nothing from the machine's own configuration or accounts.
"""

from __future__ import annotations

import json
import os
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

from llm_dlp.testing.proxyrun import REPO, RunningProxy, copy_policies, start_proxy
from llm_dlp.testing.standin import StandInProvider, TestCA

REPO = Path(__file__).resolve().parent.parent.parent
AGENTS = Path(os.environ.get("LLM_DLP_AGENTS", REPO / ".agents"))

# Locked in package.json / package-lock.json beside this file; scripts/test-services.sh installs
# them, and the fixtures in tests/data/agents/ come from them.
_PACKAGES = {"claude-code": "@anthropic-ai/claude-code", "codex": "@openai/codex", "gemini-cli": "@google/gemini-cli"}
VERSIONS = {name: json.loads((Path(__file__).with_name("package.json")).read_text())["dependencies"][package]
            for name, package in _PACKAGES.items()}
PROMPT = "Read the file notes.txt in the current directory and tell me what it says."
NOTE = "Build notes: run make test before pushing. The release branch is cut on Fridays.\n"


@dataclass(frozen=True)
class Cli:
    name: str  # claude-code, codex, gemini-cli
    binary: str  # in node_modules/.bin

    @property
    def path(self) -> Path:
        return AGENTS / "node_modules" / ".bin" / self.binary

    def installed(self) -> bool:
        return self.path.exists() and self.installed_version() == VERSIONS[self.name]

    def installed_version(self) -> str | None:
        manifest = AGENTS / "node_modules" / _PACKAGES[self.name] / "package.json"
        return json.loads(manifest.read_text())["version"] if manifest.exists() else None

    def skip_reason(self) -> str:
        found = self.installed_version()
        state = "is not installed" if found is None else f"{found} is installed, not the locked version"
        return (f"{self.name} {state} in {AGENTS} (scripts/test-services.sh installs "
                f"{_PACKAGES[self.name]}@{VERSIONS[self.name]} from the npm registry)")


CLAUDE = Cli("claude-code", "claude")
CODEX = Cli("codex", "codex")
GEMINI = Cli("gemini-cli", "gemini")
ALL = (CLAUDE, CODEX, GEMINI)


def command(cli: Cli, prompt: str, options: Sequence[str] = ()) -> list[str]:
    """The CLI's non-interactive command line; ``options`` go before the prompt (a model, a mode)."""
    if cli is CLAUDE:
        return [str(cli.path), *options, "-p", prompt]
    if cli is CODEX:
        return [str(cli.path), "exec", "--skip-git-repo-check", "--sandbox", "read-only", *options, prompt]
    return [str(cli.path), *options, "-p", prompt]


def environment(cli: Cli, home: Path, proxy_url: str, proxy_ca: Path, provider_url: str) -> dict[str, str]:
    """The variables a user sets (README, "Point clients at the proxy"), plus a private home."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": f"{Path(os.environ.get('NODE', '/usr/bin/node')).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TERM": "dumb",
        "HTTPS_PROXY": proxy_url,
        "https_proxy": proxy_url,
        "NO_PROXY": "",
        "no_proxy": "",
    }
    if cli is CLAUDE:
        env |= {
            "NODE_EXTRA_CA_CERTS": str(proxy_ca),
            "ANTHROPIC_BASE_URL": provider_url,
            "ANTHROPIC_API_KEY": "sk-ant-api03-dummy-key-for-tests",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        }
    elif cli is CODEX:
        env |= {
            "CODEX_CA_CERTIFICATE": str(proxy_ca),
            "OPENAI_BASE_URL": f"{provider_url}/v1",
            "OPENAI_API_KEY": "sk-dummy-key-for-tests",
            "CODEX_API_KEY": "sk-dummy-key-for-tests",
            "CODEX_HOME": str(home / ".codex"),
        }
        (home / ".codex").mkdir(exist_ok=True)
        # Codex reads its base URL from its configuration, not from OPENAI_BASE_URL.
        (home / ".codex" / "config.toml").write_text(f'openai_base_url = "{provider_url}/v1"\n')
    else:
        env |= {
            "NODE_EXTRA_CA_CERTS": str(proxy_ca),
            "GOOGLE_GEMINI_BASE_URL": provider_url,
            "GEMINI_API_KEY": "dummy-gemini-key-for-tests",
            "GEMINI_CLI_NO_RELAUNCH": "true",
            "GEMINI_CLI_TRUST_WORKSPACE": "true",
        }
        # A base URL alone selects the "gateway" auth type, which gemini -p then rejects
        # ("Invalid auth method selected."); the API-key type honours the base URL as well.
        (home / ".gemini").mkdir(exist_ok=True)
        (home / ".gemini" / "settings.json").write_text(json.dumps({
            "security": {"auth": {"selectedType": "gemini-api-key"}},
            "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
            "privacy": {"usageStatisticsEnabled": False},
            "telemetry": {"enabled": False},
        }))
    return env


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run(cli: Cli, workdir: Path, env: dict[str, str], prompt: str = PROMPT, timeout: float = 180,
        options: Sequence[str] = ()) -> Run:
    done = subprocess.run(command(cli, prompt, options), cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    return Run(done.returncode, done.stdout, done.stderr)


@dataclass
class Stack:
    """A stand-in provider behind the real proxy, for one CLI at a time."""

    provider: StandInProvider
    proxy: RunningProxy
    root: Path

    def environment(self, cli: Cli) -> dict[str, str]:
        return environment(cli, self.root / "home" / cli.name, self.proxy.url, self.proxy.ca_cert,
                           self.provider.base_url)


def blocking_policies(directory: Path) -> Path:
    """The bundled policies with private keys blocked outright: the default withholds the tool
    result and lets the session go on, and what each client shows for a block is under test."""
    default = (REPO / "policies" / "default.yaml").read_text()
    withheld = "    rule: private-key\n    action: withhold"
    assert withheld in default
    return copy_policies(directory, default=default.replace(withheld, "    rule: private-key\n    action: block"))


@contextmanager
def stack(root: Path, policy_dir: Path | None = None) -> Iterator[Stack]:
    root.mkdir(parents=True, exist_ok=True)
    ca = TestCA(root / "ca")
    provider = StandInProvider(ca)
    try:
        proxy = start_proxy(root / "proxy", intercept=[f"localhost:{provider.port}"], upstream_ca=ca.cert_path,
                            policy_dir=policy_dir)
        try:
            yield Stack(provider, proxy, root)
        finally:
            proxy.stop()
    finally:
        provider.close()
