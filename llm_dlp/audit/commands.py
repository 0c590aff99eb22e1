"""`llm-dlp audit ...`: verify, query, summary, report, purge, seen (issue 8).

``register(subparsers)`` adds the ``audit`` command to the CLI; ``cli.py`` calls it.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    # Not offered until the review commands exist (issue 8).
    return None
