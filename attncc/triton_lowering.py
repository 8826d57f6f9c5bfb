"""Lower a softmax-family spec to the context of the Triton kernel templates.

Before: a checked Spec with `is_linear` False. After: a dict for backends/triton/*.jinja: the
simplified mask, score, scale and sink printed as Triton expressions (attncc/triton_printer.py),
the derivatives the backward needs (attncc/derive.py), the tile facts (attncc/tiles.py: when a
tile may hold an allowed pair, when it is full, the closed-form loop ranges from both sides),
the learnable reads whose gradients the kernels scatter, and the kernels' spec arguments. Every
decision is made here; the templates only place the strings.
"""

from __future__ import annotations

from . import ir
from .derive import derive
from .formatting import format_expr
from .symbolic import simplify_spec
from .tiles import analyse_tiles
from .triton_printer import TritonPrinter

DEFAULT_TILE = {"block_m": None, "block_n": None, "warps": 4, "stages": 2}


def _condition(expr: ir.Expr, printer: TritonPrinter) -> str:
    if isinstance(expr, ir.Const):
        return "True" if expr.value else "False"
    return printer(expr)


def _partial(must: ir.Expr, printer: TritonPrinter) -> str:
    """When the tile needs the mask evaluated: whenever it is not provably full."""
    if isinstance(must, ir.Const):
        return "False" if must.value else "True"
    return f"({printer(must)}) == 0"


def _ranges(ranges, size: str, printer: TritonPrinter) -> list[tuple[str, str]]:
    """Loop ranges as code, clipped to [0, size); None (no closed form) is the whole axis."""
    if ranges is None:
        return [("0", size)]
    out = []
    for lo, hi in ranges:
        if isinstance(lo, ir.Const):
            lo_code = str(max(int(lo.value), 0))
        else:
            lo_code = f"tl.maximum({printer(lo)}, 0)"
        if isinstance(hi, ir.Var) and hi.name == size:
            hi_code = size
        else:
            hi_code = f"tl.minimum({printer(hi)}, {size})"
        out.append((lo_code, hi_code))
    return out


def _depends_on_pairs(expr: ir.Expr) -> bool:
    return bool(ir.free_vars(expr) & {"i", "j"})


def _gradient_reads(pairs, spec: ir.Spec, printer: TritonPrinter, first_slot: int) -> list[dict]:
    """The learnable reads among (load, d/d load) pairs, with their scatter offsets."""
    reads = []
    for load, derivative in pairs:
        if not spec.input(load.input).learnable:
            continue
        indices = [printer(x) for x in load.indices]
        reads.append({
            "input": load.input,
            "slot": first_slot + len(reads),
            "offset": " + ".join(f"({x}) * G_{load.input}_s{k}" for k, x in enumerate(indices)),
            "inside": " & ".join(f"({x} >= 0) & ({x} < X_{load.input}_d{k})" for k, x in enumerate(indices)),
            "dcode": printer.as_float(derivative),
            "pairwise": any(_depends_on_pairs(x) for x in load.indices),
        })
    return reads


def _argument_lines(names: list[str], indent: str = "    ") -> str:
    """Kernel parameters as source lines that continue a signature (each line ends with a comma)."""
    lines, line = [], ""
    for name in names:
        piece = f"{name}, "
        if line and len(line) + len(piece) > 96:
            lines.append(line.rstrip())
            line = ""
        line += piece
    if line:
        lines.append(line.rstrip())
    return "".join(f"\n{indent}{text}" for text in lines)


def triton_context(spec: ir.Spec) -> dict:
    """The template context for the triton backend (see the module docstring)."""
    if spec.is_linear:
        raise ValueError("linear attention has no Triton kernels yet; compile it with --backend torch")
    simple = simplify_spec(spec)
    printer = TritonPrinter()
    derivatives = derive(simple)
    facts = analyse_tiles(simple)

    spec_args = [f"P_{p.name}" for p in spec.params]
    runtime_scalars = ["B", "H", "HKV", "N", "M", "D", "DV"] + list(spec_args)
    for x in spec.inputs:
        dims = [f"X_{x.name}_d{k}" for k in range(len(x.dims))]
        spec_args += [f"X_{x.name}"] + [f"X_{x.name}_s{k}" for k in range(len(x.dims))] + dims
        runtime_scalars += dims
    grad_args = []
    for x in spec.learnable_inputs:
        grad_args += [f"G_{x.name}"] + [f"G_{x.name}_s{k}" for k in range(len(x.dims))]

    score_grads = _gradient_reads(derivatives.dscore_dloads, simple, printer, 0)
    sink_grads = _gradient_reads(derivatives.dsink_dloads, simple, printer, len(score_grads))

    def record_args(reads):
        return [name for r in reads for name in (f"RV{r['slot']}", f"RI{r['slot']}")]

    tile = dict(DEFAULT_TILE)
    tile.update({name: values[0] for name, values in spec.tile.options})
    return {
        "mask_code": printer(simple.mask),
        "score_code": printer.as_float(simple.score),
        "scale_code": printer.as_float(simple.scale),
        "sink_code": printer.as_float(simple.norm.sink) if simple.norm.sink is not None else "",
        "dscore_ds_code": printer.as_float(derivatives.dscore_ds),
        "dscore_ds_text": format_expr(derivatives.dscore_ds),
        "may_code": _condition(facts.may_be_true, printer),
        "partial_code": _partial(facts.must_be_true, printer),
        "key_ranges": _ranges(facts.key_ranges, "M", printer),
        "query_ranges": _ranges(facts.query_ranges, "N", printer),
        "runtime_scalars": runtime_scalars,
        "kernel_extra_args": _argument_lines(spec_args),
        "score_grad_args": _argument_lines(grad_args + record_args(score_grads)) if score_grads else "",
        "sink_grad_args": _argument_lines(grad_args + record_args(sink_grads)) if sink_grads else "",
        "score_grads": score_grads,
        "sink_grads": sink_grads,
        "input_names": tuple(x.name for x in spec.inputs),
        "learnable_names": tuple(x.name for x in spec.learnable_inputs),
        "score_slots": tuple(r["input"] for r in score_grads),
        "sink_slots": tuple(r["input"] for r in sink_grads),
        "block_m": tile["block_m"],
        "block_n": tile["block_n"],
        "warps": tile["warps"],
        "stages": tile["stages"],
    }
