"""Print the first line of a lock file: a digest of every dependency pyproject.toml declares.

tests/test_lock.py recomputes it, so any edit to a dependency in pyproject.toml without
re-running scripts/lock.sh fails the test suite instead of installing something unlocked.
"""

import hashlib
import json
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def dependency_digest(pyproject: Path = PYPROJECT) -> str:
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    declared = {
        "build-system": data["build-system"]["requires"],
        "dependencies": data["project"]["dependencies"],
        "optional-dependencies": data["project"].get("optional-dependencies", {}),
    }
    canonical = json.dumps(declared, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


if __name__ == "__main__":
    print(f"# pyproject-dependencies-sha256: {dependency_digest()}")
