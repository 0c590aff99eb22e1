"""Things that look like secrets and are not: nothing here may produce a finding.

A detector that flags every git SHA, UUID, lockfile hash or ``process.env.API_KEY`` gets
switched off; this corpus is built from the shapes developers paste all day.
"""

from __future__ import annotations

import hashlib
import uuid

import pytest

from detectors.secrets import SecretDetector

detector = SecretDetector()


def _sha(i: int, algo: str = "sha1") -> str:
    return hashlib.new(algo, str(i).encode()).hexdigest()


GIT_LOG = "\n".join(
    f"commit {_sha(i)}\nAuthor: Dev <dev@example.org>\n\n    fix: bump {_sha(i)[:7]} (merge {_sha(i + 1)[:12]})\n"
    for i in range(40)
)
UUIDS = "\n".join(
    f'{{"id": "{uuid.UUID(int=i * 7919 + 1, version=4)}", "request_id": "{uuid.UUID(int=i * 104729, version=4)}"}}'
    for i in range(40)
)
PACKAGE_LOCK = "\n".join(
    f'    "node_modules/pkg{i}": {{\n      "version": "1.{i}.0",\n'
    f'      "resolved": "https://registry.npmjs.org/pkg{i}/-/pkg{i}-1.{i}.0.tgz",\n'
    f'      "integrity": "sha512-{hashlib.sha512(str(i).encode()).hexdigest()[:86]}=="\n    }},'
    for i in range(30)
)
YARN_LOCK = "\n".join(
    f'pkg{i}@^1.0.0:\n  version "1.{i}.0"\n  resolved "https://registry.yarnpkg.com/pkg{i}/-/pkg{i}-1.{i}.0.tgz#{_sha(i)}"\n'
    f'  integrity sha1-{_sha(i)[:27]}=\n'
    for i in range(30)
)
PIP_REQUIREMENTS = "\n".join(
    f"package{i}==2.{i}.1 \\\n    --hash=sha256:{_sha(i, 'sha256')} \\\n    --hash=sha256:{_sha(i + 100, 'sha256')}"
    for i in range(30)
)
POETRY_LOCK = "\n".join(
    f'[[package]]\nname = "pkg{i}"\nversion = "0.{i}.0"\nfiles = [\n'
    f'    {{file = "pkg{i}-0.{i}.0.tar.gz", hash = "sha256:{_sha(i, "sha256")}"}},\n]\n'
    for i in range(30)
)
GO_SUM = "\n".join(
    f"github.com/org/mod{i} v1.{i}.0 h1:{hashlib.sha256(str(i).encode()).hexdigest()[:43]}=\n"
    f"github.com/org/mod{i} v1.{i}.0/go.mod h1:{hashlib.sha256(str(-i).encode()).hexdigest()[:43]}="
    for i in range(30)
)
ENV_REFERENCES = """
const apiKey = process.env.OPENAI_API_KEY;
const token = process.env["GITHUB_TOKEN"] ?? import.meta.env.VITE_API_TOKEN;
api_key = os.environ["ANTHROPIC_API_KEY"]
secret_key = os.getenv("AWS_SECRET_ACCESS_KEY")
password = settings.DATABASE_PASSWORD
DB_PASSWORD=${DB_PASSWORD}
aws_secret_access_key: ${AWS_SECRET_ACCESS_KEY}
token: ${{ secrets.NPM_TOKEN }}
GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}
password: "{{ vault_db_password }}"
api_key = ENV.fetch("STRIPE_SECRET_KEY")
String secret = System.getenv("CLIENT_SECRET");
export AWS_ACCESS_KEY_ID=$AWS_KEY
auth_token = config.get("auth_token")
"""
PLACEHOLDERS = """
OPENAI_API_KEY=sk-...
ANTHROPIC_API_KEY=your-api-key-here
AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
STRIPE_KEY=<your-stripe-key>
password: changeme
DATABASE_URL=postgres://user:password@localhost:5432/db
client_secret: "********"
"""
IMAGE = "<img src=\"data:image/png;base64," + ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk" * 40) + "\">"
MINIFIED_JS = (
    'var e=n(12),t=n.n(e),r={apiKey:e.apiKey,authDomain:t.authDomain,token:r.token};'
    'function a(e){return e.accessToken||e.refreshToken}const o="auth_token_storage_key";'
) * 20
# What a vendored Yarn release (.yarn/releases/yarn-*.cjs) carries: npm-search's public key.
VENDORED_YARN = 'const algolia={appId:"OFCNCOG2CU",apiKey:"6fe4476ee5a1832882e326b506d14126",indexName:"npm-search"};'

CORPUS = {
    "git log": GIT_LOG,
    "uuids": UUIDS,
    "package-lock.json": PACKAGE_LOCK,
    "yarn.lock": YARN_LOCK,
    "requirements.txt with hashes": PIP_REQUIREMENTS,
    "poetry.lock": POETRY_LOCK,
    "go.sum": GO_SUM,
    "environment references": ENV_REFERENCES,
    "placeholders and documented examples": PLACEHOLDERS,
    "base64 image": IMAGE,
    "minified js": MINIFIED_JS,
    "vendored yarn release": VENDORED_YARN,
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_no_finding_on_non_secrets(name: str) -> None:
    text = CORPUS[name]
    assert [(f.rule, text[f.start : f.end]) for f in detector.scan(text)] == []
