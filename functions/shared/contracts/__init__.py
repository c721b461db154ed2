"""Versioned event contracts: the pydantic models ARE the schemas (exported to `schemas/`).

`registry` maps (event name, version) to its model and source, and knows how to upcast old versions.
"""

from shared.contracts.envelope import Envelope
from shared.contracts.registry import REGISTRY, Contract, UnknownEvent

__all__ = ["REGISTRY", "Contract", "Envelope", "UnknownEvent"]
