"""attncc: a compiler from `.attn` attention specs to fused kernels with backward passes.

    mod = attncc.load("examples/alibi.attn", backend="torch")
    o = mod.attention(q, k, v, slopes=slopes)

The package is the pipeline, one subpackage per stage; an import only goes from a later stage
to an earlier one (docs/architecture.md; tests/test_layering.py holds it):

    runtime/   what generated modules carry or call (schedules, the tuning cache); stdlib only
    ir/        the typed IR, its typing rules and its meaning on Python scalars
    language/  the front end: grammar, parser, AST, elaboration into IR, errors, IR back to text
    symbolic/  the symbolic middle: sympy, simplification, derivatives, bounds proofs, tile facts
    codegen/   printers, the per-backend lowering, rendering the templates
    driver/    the pipeline run once per spec (its frozen result), attncc.load and its cache
    checks/    the generated gradient checks (`attncc check`, `compile --tests`)
    bench/     benchmarks against SDPA and FlexAttention (`attncc bench`)
    inspect/   the kernels compiled for a GPU without one, and read (`attncc inspect`)
    commands/  the command line: compile, show, check, tune, bench, inspect
"""

from ._version import __version__
from .language.errors import Diagnostic, SpecError
from .driver.loader import load

__all__ = ["load", "SpecError", "Diagnostic", "__version__"]
