"""What the symbolic middle knows about one spec: the frozen value the driver hands on.

The driver (driver/pipeline.py) runs each analysis once, in ARCHITECTURE.md's order, and
collects the results here; code generation and `attncc show` read them and never run an
analysis themselves. Every field is immutable (frozen dataclasses of IR).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .. import ir
from ..language.errors import Diagnostic
from .base2 import Base2
from .derive import Derivatives
from .tiles import TileFacts


@dataclass(frozen=True)
class SpecFacts:
    """One elaborated spec and every analysis of it.

    `spec`: as elaborated, used as written by the torch reference (the oracle the passes are
    tested against); `simple`: simplified, what the Triton kernels print; `derivatives`: of
    `simple`; `tiles`: the tile facts of `simple` (None for linear attention, which has no
    tiles of pairs); `warnings`: reads of `spec` not provably in bounds (its positions name the
    place); `base2`: what the softmax-norm kernels print, in base 2 (base2.py; None for other
    norms and linear attention).
    """

    spec: ir.Spec
    simple: ir.Spec
    derivatives: Derivatives
    tiles: Optional[TileFacts]
    warnings: tuple[Diagnostic, ...]
    base2: Optional[Base2] = None
