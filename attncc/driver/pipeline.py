"""The pipeline driver: source text -> elaborated spec -> facts -> generated module source.

Each stage runs once per spec, in the order of ARCHITECTURE.md: parse, elaborate (the front
end), then the symbolic middle's analyses (simplify, the bounds proofs, derivatives, tile
facts) collected into one frozen `SpecFacts`, then lowering and rendering, which only read it.
`compile_source` (text) and `compile_spec` (an elaborated spec) are the entry points the CLI,
`attncc.load` and the tests use. It raises
SpecError for a spec that cannot be compiled; warnings come back alongside the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

from .. import ir
from ..codegen.render import BACKEND_TEMPLATES, render
from ..language.elaborate import elaborate
from ..language.errors import Diagnostic
from ..language.parser import parse
from ..symbolic.bounds import prove_reads
from ..symbolic.derive import derive
from ..symbolic.base2 import base2_forms
from ..symbolic.facts import SpecFacts
from ..symbolic.simplify import simplify_spec
from ..symbolic.tiles import analyse_tiles

BACKENDS = tuple(BACKEND_TEMPLATES)
DEFAULT_BACKEND = "triton"


@dataclass(frozen=True)
class CompileResult:
    spec: ir.Spec
    code: str
    warnings: tuple[Diagnostic, ...]
    backend: str
    facts: SpecFacts


def front_end(source: str, filename: str = "<spec>") -> ir.Spec:
    """Parse and elaborate: the typed IR of `source`, or SpecError with every error found. A
    UTF-8 byte-order mark at the start (editors on Windows write one) is not part of the spec."""
    source = strip_bom(source)
    return elaborate(parse(source, filename), source, filename)


def strip_bom(source: str) -> str:
    return source[1:] if source.startswith("\ufeff") else source


def analyse(spec: ir.Spec) -> SpecFacts:
    """The symbolic middle on an elaborated spec, each pass once: simplify, prove the reads in
    bounds (on the spec as written, whose positions name the place), derive, classify tiles."""
    simple = simplify_spec(spec)
    warnings = tuple(prove_reads(spec))
    derivatives = derive(simple)
    tiles = None if simple.is_linear else analyse_tiles(simple)
    base2 = base2_forms(simple, derivatives) if not simple.is_linear and simple.norm.kind == "softmax" else None
    return SpecFacts(spec=spec, simple=simple, derivatives=derivatives, tiles=tiles, warnings=warnings, base2=base2)


def compile_spec(spec: ir.Spec, backend: str = DEFAULT_BACKEND,
                 tuned: Optional[Mapping[str, dict]] = None) -> CompileResult:
    """Analyse an elaborated spec and render its module for `backend`; `tuned`: tile configs to
    compile in (`attncc compile --tuned`, see attncc/commands/tune.py)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    facts = analyse(spec)
    return CompileResult(spec=spec, code=render(facts, backend, tuned), warnings=facts.warnings,
                         backend=backend, facts=facts)


def compile_source(source: str, filename: str = "<spec>", backend: str = DEFAULT_BACKEND,
                   tuned: Optional[Mapping[str, dict]] = None) -> CompileResult:
    """Compile spec text to module source for `backend`: the front end, then `compile_spec`."""
    return compile_spec(front_end(source, filename), backend, tuned)
