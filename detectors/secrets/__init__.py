"""Secret detection: gitleaks-class rules on a hyperscan prefilter, with offline validation."""

from detectors.secrets.detector import SecretDetector
from detectors.secrets.ruleset import Rule, Samples, load_rules

__all__ = ["Rule", "Samples", "SecretDetector", "load_rules"]
