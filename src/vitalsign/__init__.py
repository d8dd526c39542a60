"""vitalsign: explainable customer-health scoring for B2B SaaS customer-success teams."""

from vitalsign.errors import VitalsignError

__version__ = "0.1.0"
__all__ = ["VitalsignError", "__version__"]
