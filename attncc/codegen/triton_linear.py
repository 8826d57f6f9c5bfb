"""Lower a linear-attention spec to the context of backends/triton/linear*.jinja.

Before: the driver's facts (symbolic.facts.SpecFacts) of a spec with `is_linear` True. After: a dict with the feature map phi(x) (for
`taylor2(e)`, the inner e(x)), its derivative (symbolic/derive.py), the decay g per head and the
learnable reads in it (d decay / d read, where each read's gradient goes), all
printed as Triton expressions of `x`, `h`, the params and the inputs; whether the mask is
causal; and the kernels' spec arguments. The templates only place the strings.
"""

from __future__ import annotations

from .. import ir
from ..ir.constfold import is_causal_mask
from ..language.formatting import format_expr
from ..symbolic.facts import SpecFacts
from .triton_common import argument_lines, gradient_read, spec_arguments
from .triton_printer import TritonPrinter


def linear_context(analysed: SpecFacts) -> dict:
    """The template context for a linear-attention spec on the triton backend."""
    spec, simple, derivatives = analysed.spec, analysed.simple, analysed.derivatives
    # taylor2(e): the kernels build phi from e(x) (linear_taylor2.py.jinja); derive gives e'(x).
    feature = simple.feature.args[0] if spec.is_taylor2 else simple.feature
    printer = TritonPrinter()
    spec_args, runtime_scalars = spec_arguments(spec)
    learnable = {x.name for x in spec.learnable_inputs}
    decay_grads = [gradient_read(load.input, slot, list(load.indices), derivative, printer)
                   for slot, (load, derivative) in enumerate(
                       pair for pair in derivatives.ddecay_dloads if pair[0].input in learnable)]
    decay_inputs = [x for x in spec.inputs if x.name in {r["input"] for r in decay_grads}]
    grad_args = [f"G_{x.name}_s{k}" for x in decay_inputs for k in range(len(x.dims))]
    grad_args += [name for r in decay_grads for name in (f"RV{r['slot']}", f"RI{r['slot']}")]
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
        "decay_grads": decay_grads,
        "decay_grad_args": argument_lines(grad_args + ["DLOGK"]) if decay_grads else "",
        "learnable_names": tuple(x.name for x in decay_inputs),
        "decay_slots": tuple(r["input"] for r in decay_grads),
    }
