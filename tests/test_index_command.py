"""`llm-dlp index build|list|stats|remove`: git-aware listing, skipped files, incremental re-runs."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import pytest

from detectors.code import ProprietaryCodeDetector
from detectors.code.indexer import list_sources
from llm_dlp import index_command

CODE = """
def settle_invoice(ledger, invoice_id, amount, currency="EUR"):
    entry = ledger.lookup(invoice_id)
    if entry is None:
        raise KeyError(f"unknown invoice {invoice_id}")
    if entry.currency != currency:
        amount = ledger.convert(amount, currency, entry.currency)
    remaining = entry.outstanding - amount
    ledger.record(invoice_id, paid=amount, remaining=max(remaining, 0))
    if remaining <= 0:
        ledger.close(invoice_id)
        ledger.notify(entry.customer, "invoice settled", invoice_id=invoice_id)
    return remaining
"""


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    index_command.register(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    return args.handler(args)


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "billing"
    (root / "src").mkdir(parents=True)
    (root / "src" / "ledger.py").write_text(CODE)
    (root / "node_modules" / "lib").mkdir(parents=True)
    (root / "node_modules" / "lib" / "index.js").write_text("module.exports = 1;\n")
    (root / "src" / "api_pb2.py").write_text(CODE)
    (root / "src" / "untracked.py").write_text(CODE)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "src/ledger.py", "src/api_pb2.py", "node_modules"], check=True)
    return root


def test_git_tree_lists_tracked_sources_only(repo: Path) -> None:
    listed = sorted(c.relative for c in list_sources(repo))
    assert listed == ["src/api_pb2.py", "src/ledger.py"]  # untracked and vendored are left out


def test_build_list_stats_remove_and_incremental(repo: Path, tmp_path: Path, capsys) -> None:
    index_dir = str(tmp_path / "idx")
    assert run("index", "build", "--name", "billing", "--label", "core", "--index-dir", index_dir, "--no-progress", str(repo)) == 0
    out = capsys.readouterr().out
    assert "1 files indexed" in out and "1 skipped (1 generated)" in out

    findings = ProprietaryCodeDetector(index_dir).scan("please review:\n" + CODE.replace("ledger", "book"))
    assert [(f.rule, f.details["path"], f.details["label"], f.details["repository"]) for f in findings] == [
        ("billing", "src/ledger.py", "core", "billing")
    ]
    assert findings[0].details["line_start"] <= 3 and findings[0].details["line_end"] >= 12

    assert run("index", "build", "--name", "billing", "--index-dir", index_dir, "--no-progress", str(repo)) == 0
    assert "0 files indexed, 1 unchanged" in capsys.readouterr().out

    (repo / "src" / "ledger.py").write_text(CODE + "\n\ndef extra():\n    return 1\n")
    assert run("index", "build", "--name", "billing", "--index-dir", index_dir, "--no-progress", str(repo)) == 0
    assert "1 files indexed, 0 unchanged" in capsys.readouterr().out

    assert run("index", "list", "--index-dir", index_dir) == 0
    assert "billing\tlabel=core" in capsys.readouterr().out  # the label survives a re-run without --label
    assert run("index", "stats", "--index-dir", index_dir) == 0
    assert "billing" in capsys.readouterr().out
    assert run("index", "remove", "billing", "--index-dir", index_dir) == 0
    assert ProprietaryCodeDetector(index_dir).scan(CODE) == []


def test_missing_index_is_cheap_and_empty(tmp_path: Path) -> None:
    detector = ProprietaryCodeDetector(tmp_path / "nowhere")
    assert detector.scan(CODE) == []
    assert not (tmp_path / "nowhere").exists()
