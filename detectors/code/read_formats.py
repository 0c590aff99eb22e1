"""The shapes coding agents send a file in, as functions: the tests of ``unwrap.py`` and
``bench/code_detection.py`` apply them to real code to check that the code detectors still find it.

Each takes the file's lines (and the number of the first, for a part of a file) and returns the
text an agent's tool result or tool call holds. They imitate the tools' output formats as of
2026: Claude Code's Read (both formats), ``cat -n``, ``nl``, grep/ripgrep, ``git diff`` and
``git show``, Codex's ``apply_patch`` and shell output, Gemini CLI's read_file, a notebook.
"""

from __future__ import annotations

import json
from collections.abc import Callable

FILE_PATH = "src/pricing/engine.py"  # the path the shapes that name a file give it



def claude_read(lines: list[str], first: int = 1) -> str:
    """Claude Code's Read tool since 2.1: the number flush left, a tab, the line."""
    return "\n".join(f"{n}\t{line}" for n, line in enumerate(lines, first))


def claude_read_arrow(lines: list[str], first: int = 1) -> str:
    """Claude Code's Read tool before 2.1: the number right-aligned to six, an arrow."""
    return "\n".join(f"{n:>6}\u2192{line}" for n, line in enumerate(lines, first))


def cat_n(lines: list[str], first: int = 1) -> str:
    return "\n".join(f"{n:>6}\t{line}" for n, line in enumerate(lines, first))


def nl_ba(lines: list[str], first: int = 1) -> str:
    """``nl -ba`` (Codex's way to number a file): as ``cat -n``, blank lines numbered too."""
    return "\n".join(f"{n:>6}\t{line}".rstrip(" ") for n, line in enumerate(lines, first))


def nl(lines: list[str], first: int = 1) -> str:
    """``nl`` without ``-ba``: blank lines are not numbered (nor counted), only padded. Its count
    starts at the first line that is not blank: ``first`` and the blank lines above it (so
    that for a whole file, ``first`` 1, it is exactly what ``nl`` prints)."""
    numbered, number = [], first + next((i for i, line in enumerate(lines) if line.strip()), 0)
    for line in lines:
        if line.strip():
            numbered.append(f"{number:>6}\t{line}")
            number += 1
        else:
            numbered.append(" " * 7)
    return "\n".join(numbered)


def grep_n(lines: list[str], first: int = 1, path: str = FILE_PATH) -> str:
    """``grep -n -C`` / ``rg -n`` over several files: matches ``path:N:``, context ``path-N-``."""
    return "\n".join(f"{path}{':' if n % 3 else '-'}{n}{':' if n % 3 else '-'}{line}" for n, line in enumerate(lines, first))


def rg_heading(lines: list[str], first: int = 1, path: str = FILE_PATH) -> str:
    """ripgrep's heading mode (its default on a terminal): the path alone, then ``N:`` matches
    and ``N-`` context; another file's block follows after a blank line."""
    return path + "\n" + "\n".join(f"{n}{':' if n % 2 else '-'}{line}" for n, line in enumerate(lines, first))


def rg_no_numbers(lines: list[str], first: int = 1, path: str = FILE_PATH) -> str:
    """ripgrep piped (no line numbers unless ``-n``) over several files, with context:
    matches ``path:line``, context ``path-line``."""
    return "\n".join(f"{path}{':' if n % 3 else '-'}{line}" for n, line in enumerate(lines, first))


def rg_heading_no_numbers(lines: list[str], first: int = 1, path: str = FILE_PATH) -> str:
    """``rg --heading --no-line-number``: the path alone, then the lines as they are."""
    return path + "\n" + "\n".join(lines)


def git_diff(lines: list[str], first: int = 1, path: str = FILE_PATH) -> str:
    """A diff that changes one line in the middle of ``lines``, shown whole as context."""
    middle = len(lines) // 2
    body = [f" {line}" for line in lines[:middle]] + [f"-{lines[middle]}", f"+{lines[middle]}  # reviewed"]
    body += [f" {line}" for line in lines[middle + 1 :]]
    return (
        f"diff --git a/{path} b/{path}\nindex 3f2a1b4..9c8d7e6 100644\n--- a/{path}\n+++ b/{path}\n"
        f"@@ -{first},{len(lines)} +{first},{len(lines)} @@\n" + "\n".join(body)
    )


def new_file_diff(lines: list[str], first: int = 1, path: str = FILE_PATH) -> str:
    """``git show`` of the commit that added the file: a header, a message, every line a ``+``."""
    return (
        "commit 5d41402abc4b2a76b9719d911017c592\nAuthor: A Developer <dev@example.com>\n"
        "Date:   Mon Nov 2 10:00:00 2026 +0100\n\n    Add the quote engine\n\n"
        f"diff --git a/{path} b/{path}\nnew file mode 100644\nindex 0000000..9c8d7e6\n--- /dev/null\n"
        f"+++ b/{path}\n@@ -0,0 +{first},{len(lines)} @@\n" + "\n".join(f"+{line}" for line in lines)
    )


def apply_patch(lines: list[str], first: int = 1, path: str = FILE_PATH) -> str:
    """Codex's apply_patch adding the file."""
    return f"*** Begin Patch\n*** Add File: {path}\n" + "\n".join(f"+{line}" for line in lines) + "\n*** End Patch"


def quoted(lines: list[str], first: int = 1) -> str:
    return "> Here is the file:\n>\n" + "\n".join(f"> {line}".rstrip() for line in lines)


def notebook(lines: list[str], first: int = 1) -> str:
    """The file as the code cell of a Jupyter notebook (``cat x.ipynb``)."""
    cell = {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [],
            "source": [line + "\n" for line in lines[:-1]] + [lines[-1]]}
    intro = {"cell_type": "markdown", "metadata": {}, "source": ["# Pricing\n", "How quotes are priced."]}
    return json.dumps({"cells": [intro, cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1)


def codex_exec(lines: list[str], first: int = 1) -> str:
    """Codex's shell tool output around ``sed -n 'a,bp' file``: its header, then the lines as is."""
    return "Exit code: 0\nWall time: 0.1 seconds\nOutput:\n" + "\n".join(lines)


def gemini_read_file(lines: list[str], first: int = 1) -> str:
    return "\n".join(lines)


Shape = Callable[..., str]
# name -> (shape, carries the file's own line numbers, names the file itself)
SHAPES: dict[str, tuple[Shape, bool, bool]] = {
    "claude-read": (claude_read, True, False),
    "claude-read-arrow": (claude_read_arrow, True, False),
    "cat-n": (cat_n, True, False),
    "nl-ba": (nl_ba, True, False),
    "nl": (nl, True, False),
    "grep-n": (grep_n, True, True),
    "rg-heading": (rg_heading, True, True),
    "rg-no-numbers": (rg_no_numbers, False, True),
    "rg-heading-no-numbers": (rg_heading_no_numbers, False, True),
    "git-diff": (git_diff, True, True),
    "git-show": (new_file_diff, True, True),
    "apply-patch": (apply_patch, False, True),
    "markdown-quote": (quoted, False, False),
    "notebook": (notebook, False, False),
    "codex-exec": (codex_exec, False, False),
    "gemini-read-file": (gemini_read_file, False, False),
}
