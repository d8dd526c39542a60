"""The health model: its YAML schema, validation, expressions and canonical tables.

This sub-package imports nothing else of vitalsign except `vitalsign.errors`.
"""

from vitalsign.model.canonical import CANONICAL_TABLES, CanonicalTable, Column
from vitalsign.model.loader import LoadedModel, load_model, model_hash, parse_model
from vitalsign.model.spec import Band, Flag, Gate, Group, HealthModel, Segment, Signal

__all__ = [
    "CANONICAL_TABLES",
    "Band",
    "CanonicalTable",
    "Column",
    "Flag",
    "Gate",
    "Group",
    "HealthModel",
    "LoadedModel",
    "Segment",
    "Signal",
    "load_model",
    "model_hash",
    "parse_model",
]
