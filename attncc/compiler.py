"""The pipeline driver: source text -> checked spec -> passes -> generated module source.

`compile_source` runs parse, check, the analyses (warnings) and codegen, in that order, and is
the one entry point the CLI, `attncc.load` and the tests use. It raises SpecError for a spec
that cannot be compiled; warnings come back alongside the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

from . import ir
from .check import check
from .codegen import BACKEND_TEMPLATES, render
from .errors import Diagnostic
from .parser import parse

BACKENDS = tuple(BACKEND_TEMPLATES)
DEFAULT_BACKEND = "triton"


@dataclass(frozen=True)
class CompileResult:
    spec: ir.Spec
    code: str
    warnings: tuple[Diagnostic, ...]
    backend: str


def front_end(source: str, filename: str = "<spec>") -> ir.Spec:
    """Parse and check: the typed IR of `source`, or SpecError with every error found."""
    return check(parse(source, filename), source, filename)


def analyse_warnings(spec: ir.Spec) -> tuple[Diagnostic, ...]:
    """Warnings about a valid spec (input reads the compiler cannot prove in bounds)."""
    from .bounds import check_reads

    return tuple(check_reads(spec))


def compile_source(source: str, filename: str = "<spec>", backend: str = DEFAULT_BACKEND,
                   tuned: Optional[Mapping[str, dict]] = None) -> CompileResult:
    """Compile spec text to module source for `backend`; `tuned`: tile configs to compile in
    (`attncc compile --tuned`, see attncc/tuning.py)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    spec = front_end(source, filename)
    warnings = analyse_warnings(spec)
    return CompileResult(spec=spec, code=render(spec, backend, tuned), warnings=warnings, backend=backend)
