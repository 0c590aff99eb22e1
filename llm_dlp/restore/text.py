"""Putting original values back in place of placeholders, in whole strings or fragment by fragment.

A restored value is written for where it lands: as is in answer text, JSON-escaped inside a
tool call's arguments (which are JSON text themselves). Whether it is restored at all is the
tenant's policy, per finding kind and per place.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Mapping

from llm_dlp.redaction import PLACEHOLDER, pending_start
from llm_dlp.vault import VaultEntry

TEXT, TOOL_ARGUMENTS = "text", "tool_arguments"  # the places of policy's ``restore:``

Escape = Callable[[str], str]


def as_is(value: str) -> str:
    return value


def json_escaped(value: str) -> str:
    """The value as the inside of a JSON string literal (a placeholder sits inside one)."""
    return json.dumps(value, ensure_ascii=False)[1:-1]


def edit(edits: dict, path: tuple, old: str, new: str) -> None:
    """Record a restored string for ``replace_strings`` only where restoring changed it."""
    if new != old:
        edits[path] = new


@dataclass(frozen=True, slots=True)
class RestoreTable:
    """The placeholders one answer may contain, what each stands for, and where it may return."""

    entries: Mapping[str, VaultEntry]
    allows: Callable[[str, str], bool]  # (kind, place) -> restore?  e.g. Policy.restores
    # Placeholders of this answer put back, and left in place by policy, per finding kind: the
    # audit log's account of what the client got back (counts only, never values).
    restored: Counter = field(default_factory=Counter, compare=False)
    kept_out: Counter = field(default_factory=Counter, compare=False)

    @property
    def restores_anything(self) -> bool:
        return any(self.allows(entry.kind, place) for entry in self.entries.values() for place in (TEXT, TOOL_ARGUMENTS))

    @property
    def keeps_from_tool_calls(self) -> bool:
        """Does the policy keep any of these values out of tool arguments? Only then may a tool
        call have to be held back (see ``held_back``)."""
        return any(not self.allows(entry.kind, TOOL_ARGUMENTS) for entry in self.entries.values())

    def held_back(self, arguments: str) -> list[str]:
        """The kinds of our placeholders in a tool call's ``arguments`` that the policy will not
        restore there. A tool call carrying one must not reach the client: run as it stands, it
        would write the placeholder into a file or a command."""
        kinds = []
        for match in PLACEHOLDER.finditer(arguments):
            entry = self.entries.get(match.group(0))
            if entry is not None and not self.allows(entry.kind, TOOL_ARGUMENTS):
                kinds.append(entry.kind)
        return sorted(set(kinds))

    def restore_tool_call(self, leaves: list[tuple[tuple, str]], edits: dict) -> list[str]:
        """Put the values back into a whole (non-streamed) tool call's string ``leaves`` (JSON path,
        text) as ``edits``, unless one of its placeholders may not go back there: then nothing is
        edited and those kinds are returned, for the caller to hold the call back."""
        kinds = self.held_back("\n".join(text for _, text in leaves))
        if not kinds:
            for path, text in leaves:
                edit(edits, path, text, self.restore(text, TOOL_ARGUMENTS))
        return kinds

    def value_for(self, token: str, place: str) -> str | None:
        entry = self.entries.get(token)
        if entry is None or not self.allows(entry.kind, place):
            return None
        return entry.value

    def restore(self, text: str, place: str, escape: Escape = as_is) -> str:
        if "[[" not in text or not self.entries:
            return text

        def swap(match) -> str:
            entry = self.entries.get(match.group(0))
            if entry is None:
                return match.group(0)  # not one of ours (or long expired): stays as it is
            if not self.allows(entry.kind, place):
                self.kept_out[entry.kind] += 1
                return match.group(0)
            self.restored[entry.kind] += 1
            return escape(entry.value)

        return PLACEHOLDER.sub(swap, text)


class TextRestorer:
    """One piece of answer text that arrives in fragments (a content block, a tool call's arguments).

    Each fragment comes back at once, except a tail that could still grow into a placeholder;
    that tail waits for the next fragment or for ``flush``. The concatenated output depends only
    on the concatenated input, never on where it was cut.
    """

    def __init__(self, table: RestoreTable, place: str, escape: Escape = as_is) -> None:
        self.table = table
        self.place = place
        self.escape = escape
        self.pending = ""

    def feed(self, fragment: str) -> str:
        text = self.pending + fragment
        cut = pending_start(text)
        self.pending = text[cut:]
        return self.table.restore(text[:cut], self.place, self.escape)

    def flush(self) -> str:
        text, self.pending = self.pending, ""
        return self.table.restore(text, self.place, self.escape)


def held_back_notice(tool: str, kinds: list[str]) -> str:
    """What the client gets instead of a tool call that would write placeholders to disk."""
    restore = ", ".join(f"restore.{kind}" for kind in kinds)
    return (f"[llm-dlp held back this {tool} tool call: its arguments carry placeholders for "
            f"{' and '.join(kinds)} values that this proxy's policy does not put back into tool calls "
            f"({restore} lacks tool_arguments), and running it would write the placeholders into files "
            f"or commands.]")
