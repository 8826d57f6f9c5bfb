"""The pipeline driver: source text -> checked spec -> passes -> generated module source.

`compile_source` runs parse, check, the analyses (warnings) and codegen, in that order, and is
the one entry point the CLI, `attncc.load` and the tests use. It raises SpecError for a spec
that cannot be compiled; warnings come back alongside the code.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def triton_gap(spec: ir.Spec) -> str:
    """Why the triton backend cannot build `spec` yet ("" when it can)."""
    if spec.is_linear and spec.decay is not None and \
            {load.input for load in ir.loads(spec.decay)} & {x.name for x in spec.learnable_inputs}:
        return "a learnable decay has no Triton kernels yet"
    return ""


def backend_for(spec: ir.Spec, backend: str) -> str:
    """The backend that builds `spec` when `backend` was asked for: the torch reference where
    the triton backend cannot build it yet (`triton_gap`), else what was asked for."""
    if backend == "triton" and triton_gap(spec):
        return "torch"
    return backend


def compile_source(source: str, filename: str = "<spec>", backend: str = DEFAULT_BACKEND) -> CompileResult:
    """Compile spec text to module source for `backend` (see `backend_for`); the result names
    the backend actually used."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    spec = front_end(source, filename)
    backend = backend_for(spec, backend)
    warnings = analyse_warnings(spec)
    return CompileResult(spec=spec, code=render(spec, backend), warnings=warnings, backend=backend)
