"""What both Triton lowerings (softmax family, linear attention) print the same way: the kernels'
spec arguments and signature lines, and a learnable read with the gradient it scatters.
"""

from __future__ import annotations

from .. import ir
from .triton_printer import TritonPrinter


def _depends_on_pairs(expr: ir.Expr) -> bool:
    return bool(ir.free_vars(expr) & {"i", "j"})


def gradient_read(name: str, slot: int, indices: list[ir.Expr], derivative: ir.Expr,
                   printer: TritonPrinter, derivative_base2: ir.Expr | None = None) -> dict:
    """One learnable read for the templates: where its gradient goes, and d(score)/d(read) (and
    the same over the base-2 s and score, where the softmax kernels have them)."""
    codes = [printer.offset_index(x) for x in indices]
    return {
        "input": name,
        "slot": slot,
        "offset": " + ".join(f"({x}) * G_{name}_s{k}" for k, x in enumerate(codes)),
        "inside": printer.inside(indices, f"X_{name}"),
        "dcode": printer.as_float(derivative),
        "dcode2": printer.as_float(derivative if derivative_base2 is None else derivative_base2),
        "pairwise": any(_depends_on_pairs(x) for x in indices),
    }


def argument_lines(names: list[str], indent: str = "    ") -> str:
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


def spec_arguments(spec: ir.Spec) -> tuple[list[str], list[str]]:
    """(the kernels' spec parameters: params, then each input with its strides and sizes; the
    runtime scalars among them and the sizes, which must not be specialized on)."""
    spec_args = [f"P_{p.name}" for p in spec.params]
    runtime_scalars = ["B", "H", "HKV", "N", "M"] + list(spec_args)
    for x in spec.inputs:
        dims = [f"X_{x.name}_d{k}" for k in range(len(x.dims))]
        spec_args += [f"X_{x.name}"] + [f"X_{x.name}_s{k}" for k in range(len(x.dims))] + dims
        runtime_scalars += dims
    return spec_args, runtime_scalars
