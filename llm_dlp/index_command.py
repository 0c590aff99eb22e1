"""`llm-dlp index build|list|stats|remove`: the proprietary-code index (issue 5).

``register(subparsers)`` adds the ``index`` command to the CLI; ``cli.py`` calls it.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    # The proprietary-code index is not built yet (issue 5); the command is not offered
    # until it is, rather than offering one that does nothing.
    return None
