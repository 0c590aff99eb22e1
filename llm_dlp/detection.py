"""The detectors the proxy, ``scan`` and ``replay`` run, and the registry of what they declare.

Policies may name only what some detector declares (``detectors.base``): its name, its finding
kinds, their rule ids and the details rules match on. ``DetectorRegistry`` derives all of that
from the declarations, so nothing in the core switches on a detector's name. A registry that
serves the proxy also runs every detector's self-check whenever policies are loaded: the loaded
rules say which kinds are needed, and a needed detector with nothing to work with stops the start
instead of letting every request through unexamined.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from detectors.base import Detector, FindingKind, Problem
from llm_dlp.policy.model import Action, Policy

log = logging.getLogger("llm_dlp")


@dataclass(frozen=True, slots=True)
class DetectorOptions:
    index_dir: Path | None = None  # proprietary-code index; default detectors.code.DEFAULT_INDEX_DIR
    spacy_model: str | None = None  # an installed spaCy pipeline for names in prose; None: no model
    # Serve even when a policy's proprietary_code rules have no index to match against (warned
    # about loudly at every policy load); without it the proxy refuses to start.
    allow_missing_index: bool = False


class DetectorCheckError(Exception):
    """A detector cannot do what it must here; the message says why and what to do about it."""


def build_detectors(options: DetectorOptions = DetectorOptions()) -> list[Detector]:
    from detectors.code import DEFAULT_INDEX_DIR, CodeDetector, ProprietaryCodeDetector
    from detectors.pii import PiiConfig, PiiDetector
    from detectors.secrets import SecretDetector

    if options.index_dir is not None and not Path(options.index_dir).is_dir():
        # A mistyped --index-dir would otherwise be an empty index: proprietary code never found.
        raise DetectorCheckError(f"the code index directory {options.index_dir} does not exist")
    return [
        SecretDetector(),
        PiiDetector(PiiConfig(spacy_model=options.spacy_model)),
        CodeDetector(),
        ProprietaryCodeDetector(options.index_dir or Path(DEFAULT_INDEX_DIR)),
    ]


def kinds_needed(policies: Iterable[Policy]) -> frozenset[str] | None:
    """The finding kinds some policy of ``policies`` can act on or record; None for every kind.

    Under a default action other than ``allow`` every finding is at least audited, so every kind
    is needed; a rule on kind ``*`` needs every kind. Otherwise a kind is needed where a rule
    names it (whatever its action: its findings are audited), where a destinations rule routes by
    it (``destinations.kinds``, a reroute's ``kinds``). The pipeline runs only the detectors of
    the needed kinds: the others' findings could only be allowed without a trace. The findings
    cache keeps each detector's findings apart, so a policy that starts needing a kind gets its
    detector run at once (``scan_workers``)."""
    kinds: set[str] = set()
    for policy in policies:
        if policy.default_action != Action.ALLOW or any(rule.kind == "*" for rule in policy.rules):
            return None
        kinds.update(rule.kind for rule in policy.rules)
        kinds.update(route.kind for route in policy.destinations.kinds)
        kinds.update(kind for reroute in policy.destinations.reroute for kind in reroute.kinds)
    return frozenset(kinds)


def languages_needed(policies: Iterable[Policy]) -> bool:
    """Whether some policy can act on the language of code or record it: a rule on kind ``code``
    or on every kind, or a default action other than ``allow`` (``log`` audits every finding,
    its language included)."""
    return any(
        policy.default_action != Action.ALLOW or any(rule.kind in ("code", "*") for rule in policy.rules)
        for policy in policies
    )


def fit_to_policies(detectors: Sequence[Detector], policies: Iterable[Policy]) -> list[Detector]:
    """The detectors a proxy serving ``policies`` runs: the code detector without its language
    model when no policy needs languages. Chosen once, before the workers fork and the findings
    cache keys the detectors; ``check_fit`` refuses a later policy load that needs more."""
    from detectors.code import CodeDetector

    if languages_needed(policies):
        return list(detectors)
    return [d.without_languages() if isinstance(d, CodeDetector) else d for d in detectors]


def check_fit(detectors: Sequence[Detector], policies: Iterable[Policy]) -> None:
    """Raise ``DetectorCheckError`` when ``policies`` need languages the running code detector
    was built without (a hot reload then keeps the policies in force)."""
    from detectors.code import CodeDetector

    reduced = any(isinstance(d, CodeDetector) and not d.identify_languages for d in detectors)
    if reduced and languages_needed(policies):
        raise DetectorCheckError(
            "detector 'code': it was started without its language model, since no policy could use a "
            "language (no rule on kind code or *, default_action allow); restart llm-dlp to load these policies"
        )


def _standard_classes() -> tuple[type, ...]:
    """The classes ``build_detectors`` builds: their declarations, without building them."""
    from detectors.code import CodeDetector, ProprietaryCodeDetector
    from detectors.pii import PiiDetector
    from detectors.secrets import SecretDetector

    return (SecretDetector, PiiDetector, CodeDetector, ProprietaryCodeDetector)


@dataclass(frozen=True, slots=True)
class DetectorRegistry:
    """What policies may name and what the detectors need, derived from their declarations.

    ``detectors`` are built detectors, or detector classes when only their class-level
    declarations are wanted (then no rule ids are known, so any is accepted). ``serving``: run
    the self-checks whenever a policy set is admitted (``admit``), as the proxy does;
    ``allow_missing_data`` turns a needed detector's missing data into a warning.
    """

    detectors: tuple[Detector | type, ...]
    serving: bool = False
    allow_missing_data: bool = False

    @classmethod
    def of(cls, detectors: Iterable[Detector]) -> DetectorRegistry:
        """The registry ``policy check``, ``explain`` and ``replay`` validate policies with."""
        return cls(tuple(detectors))

    @classmethod
    def for_proxy(cls, detectors: Iterable[Detector], options: DetectorOptions) -> DetectorRegistry:
        """The proxy's registry: policies are validated, then the detectors they need checked."""
        return cls(tuple(detectors), serving=True, allow_missing_data=options.allow_missing_index)

    @classmethod
    def standard(cls) -> DetectorRegistry:
        """The bundled detectors' declarations, for loading policies without building detectors."""
        return cls(_standard_classes())

    @property
    def kinds(self) -> dict[str, FindingKind]:
        """Every kind some detector declares; two detectors of one kind pool their details."""
        kinds: dict[str, FindingKind] = {}
        for detector in self.detectors:
            for kind in detector.kinds:
                known = kinds.get(kind.name)
                kinds[kind.name] = kind if known is None else FindingKind(kind.name, known.details | kind.details)
        return kinds

    @property
    def detector_kinds(self) -> dict[str, tuple[str, ...]]:
        """Detector name -> the kinds it reports (``rules[].detector`` in a policy)."""
        return {detector.name: tuple(kind.name for kind in detector.kinds) for detector in self.detectors}

    def rule_ids(self, kind: str) -> frozenset[str] | None:
        """Every rule id findings of ``kind`` may carry, or None where that is not known."""
        ids: set[str] = set()
        for detector in self.detectors:
            if kind not in {k.name for k in detector.kinds}:
                continue
            if isinstance(detector, type):
                return None  # a class declares its kinds; rule ids come with an instance
            declared = detector.rule_ids().get(kind)
            if declared is None:
                return None
            ids |= declared
        return frozenset(ids) if kind in self.kinds else None

    def known_rule_ids(self) -> dict[str, frozenset[str]]:
        """Rule ids per kind, for the kinds whose rule ids are all known in advance."""
        known = {kind: self.rule_ids(kind) for kind in self.kinds}
        return {kind: ids for kind, ids in known.items() if ids is not None}

    def admit(self, needed: Mapping[str, Sequence[str]]) -> list[str]:
        """Self-check every detector against what a loaded policy set needs.

        ``needed``: kind -> the rules (``file:line``) that name it. Returns the warnings for
        missing data that ``allow_missing_data`` waives (also logged); raises
        ``DetectorCheckError`` naming every other problem. A registry that is not ``serving``
        admits everything.
        """
        if not self.serving:
            return []
        errors: list[str] = []
        warnings: list[str] = []
        for detector in self.detectors:
            own = frozenset(kind.name for kind in detector.kinds) & needed.keys()
            for problem in detector.self_check(own):
                if problem.missing_data and self.allow_missing_data:
                    warnings.append(_warning(detector, problem, own, needed))
                else:
                    errors.append(_error(detector, problem, own, needed))
        if errors:
            raise DetectorCheckError("\n".join(errors))
        for warning in warnings:
            log.warning("%s", warning)
        return warnings


def _rules_naming(kinds: frozenset[str], needed: Mapping[str, Sequence[str]]) -> str:
    sources = sorted({source for kind in kinds for source in needed[kind]})
    shown = ", ".join(sources[:3])
    return shown + (f" and {len(sources) - 3} more" if len(sources) > 3 else "")


def _error(detector: Detector, problem: Problem, kinds: frozenset[str], needed: Mapping[str, Sequence[str]]) -> str:
    message = f"detector {detector.name!r}: {problem.message}"
    if problem.missing_data and kinds:
        message += (
            f". Policy rules that need its {'/'.join(sorted(kinds))} findings: {_rules_naming(kinds, needed)}. "
            "To run without them anyway, start with --allow-missing-index"
        )
    return message


def _warning(detector: Detector, problem: Problem, kinds: frozenset[str], needed: Mapping[str, Sequence[str]]) -> str:
    return (
        f"WARNING: {'/'.join(sorted(kinds))} findings will NOT be detected (--allow-missing-index): "
        f"detector {detector.name!r}: {problem.message}. "
        f"Policy rules that name them have no effect: {_rules_naming(kinds, needed)}"
    )
