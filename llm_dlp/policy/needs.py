"""Which finding kinds a policy needs computed: the pipeline runs no detector for the others.

A kind is needed when some rule names it (whatever its action: the rule's findings are
audited), or when the default action is anything but ``allow`` (``log`` audits every finding,
so every kind is needed then). A rule on kind ``*`` needs every kind. Only under
``default_action: allow`` with no rule naming a kind are that kind's findings sure to be
allowed and go unrecorded in meaning, so only then is its detector skipped: the language
model, for one, need not run for a policy with no rule on ``code``.
"""

from __future__ import annotations

from detectors.base import Detector
from llm_dlp.policy.model import Action, Policy


def needed_kinds(policy: Policy) -> frozenset[str] | None:
    """The kinds ``policy`` needs, or None for every kind."""
    if policy.default_action != Action.ALLOW or any(rule.kind == "*" for rule in policy.rules):
        return None
    return frozenset(rule.kind for rule in policy.rules)


def detector_needed(detector: Detector, kinds: frozenset[str] | None) -> bool:
    """Whether ``detector`` reports some kind in ``kinds`` (None: every kind is needed)."""
    return kinds is None or any(kind.name in kinds for kind in detector.kinds)
