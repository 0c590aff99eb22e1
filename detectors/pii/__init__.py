"""Personal data detection: presidio-analyzer offline and linear-time, a Greater China pack,
names without a model, code-noise filters and bulk-record counting. See docs/pii.md."""

from detectors.pii.detector import PiiConfig, PiiDetector

__all__ = ["PiiConfig", "PiiDetector"]
