"""Lower a linear-attention spec to the context of backends/triton/linear*.jinja.

Before: a checked Spec with `is_linear` True (a decay that reads a learnable input is built by
the torch reference; see compiler.backend_for). After: a dict with the feature map phi(x) (for
`taylor2(e)`, the inner e(x)), its derivative (attncc/derive.py), the decay g per head, all
printed as Triton expressions of `x`, `h`, the params and the inputs; whether the mask is
causal; and the kernels' spec arguments. The templates only place the strings.
"""

from __future__ import annotations

from . import ir
from .constfold import is_causal_mask
from .derive import derive
from .formatting import format_expr
from .symbolic import simplify_spec
from .triton_lowering import argument_lines, spec_arguments
from .triton_printer import TritonPrinter


def linear_context(spec: ir.Spec) -> dict:
    """The template context for a linear-attention spec on the triton backend."""
    simple = simplify_spec(spec)
    # taylor2(e): the kernels build phi from e(x) (linear_taylor2.py.jinja); derive gives e'(x).
    feature = simple.feature.args[0] if spec.is_taylor2 else simple.feature
    printer = TritonPrinter()
    derivatives = derive(simple)
    spec_args, runtime_scalars = spec_arguments(spec)
    chunk = spec.tile.get("chunk")
    return {
        "causal": is_causal_mask(spec.mask),
        "taylor2": spec.is_taylor2,
        "feature_code": printer.as_float(feature),
        "feature_text": format_expr(feature),
        "dfeature_code": printer.as_float(derivatives.dfeature_dx),
        "decay_code": printer.as_float(simple.decay) if simple.decay is not None else "",
        "decay_text": format_expr(simple.decay) if simple.decay is not None else "",
        "runtime_scalars": runtime_scalars,
        "kernel_extra_args": argument_lines(spec_args),
        "input_names": tuple(x.name for x in spec.inputs),
        "chunk": chunk[0] if chunk else None,
        "warps": 4,
    }
