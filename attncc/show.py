"""`attncc show`: the spec as the compiler understands it, and a picture of its mask.

Prints the params and inputs, the simplified mask, score, sink, scale, feature and decay, the
derivatives the backward pass uses, warnings from the analyses, and the mask for one (batch,
head) drawn with Unicode half blocks (two query rows per text line).
"""

from __future__ import annotations

from typing import Mapping

import torch

from . import ir
from .compiler import analyse_warnings, front_end
from .formatting import format_expr
from .samples import sample_inputs, sample_params

PICTURE_MAX = 64  # the picture shows at most this many rows and columns


def _convert(value: str, kind: str):
    if kind == ir.BOOL:
        if value not in ("true", "false", "True", "False", "1", "0"):
            raise ValueError(f"expected true or false; got {value!r}")
        return value in ("true", "True", "1")
    return int(value) if kind == ir.INT else float(value)


def _declarations(spec: ir.Spec) -> list[str]:
    lines = []
    for p in spec.params:
        default = "required" if p.default is None else f"= {p.default!r}".replace("True", "true").replace("False", "false")
        lines.append(f"  param {p.name}: {p.type} {default}")
    for x in spec.inputs:
        flags = "".join(f" {f}" for f in ("learnable", "sorted") if getattr(x, f))
        lines.append(f"  input {x.name}[{', '.join(format_expr(d) for d in x.dims)}]: {x.dtype}{flags}")
    return lines


def _expressions(spec: ir.Spec) -> list[str]:
    from .symbolic import simplify_spec

    simple = simplify_spec(spec)
    lines = []
    if spec.is_linear:
        lines.append(f"  feature = {format_expr(simple.feature)}")
        if simple.decay is not None:
            lines.append(f"  decay   = {format_expr(simple.decay)}")
        lines.append(f"  mask    = {format_expr(simple.mask)}")
        lines.append(f"  norm    = {spec.norm.kind}")
    else:
        lines.append(f"  mask    = {format_expr(simple.mask)}")
        lines.append(f"  score   = {format_expr(simple.score)}")
        sink = f"(sink = {format_expr(simple.norm.sink)})" if simple.norm.sink is not None else ""
        lines.append(f"  norm    = {spec.norm.kind}{sink}")
        lines.append(f"  scale   = {format_expr(simple.scale)}")
    return lines


def _derivatives(spec: ir.Spec) -> list[str]:
    from .derive import derive

    d = derive(spec)
    lines = []
    if spec.is_linear:
        lines.append(f"  d feature/dx = {format_expr(d.dfeature_dx)}")
        return lines
    lines.append(f"  d score/ds = {format_expr(d.dscore_ds)}")
    if d.dscore_ds_from_score is not None:
        lines.append(f"             = {format_expr(d.dscore_ds_from_score)}   (from the forward's score)")
    for load, expr in d.dscore_dloads:
        lines.append(f"  d score/d {format_expr(load)} = {format_expr(expr)}")
    for load, expr in d.dsink_dloads:
        lines.append(f"  d sink/d {format_expr(load)} = {format_expr(expr)}")
    return lines


def mask_picture(mask: torch.Tensor) -> list[str]:
    """A bool [N, M] matrix as text: '█' both rows allowed, '▀' upper, '▄' lower, ' ' neither."""
    rows = mask.tolist()
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    chars = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): "·"}
    out = []
    for top, bottom in zip(rows[0::2], rows[1::2]):
        out.append("  │" + "".join(chars[(a, b)] for a, b in zip(top, bottom)) + "│")
    return out


def _picture(spec: ir.Spec, sizes: Mapping[str, int], param_text: Mapping[str, str], batch: int, head: int) -> list[str]:
    from .codegen import render
    from .loader import _import_source

    unknown = sorted(set(param_text) - {p.name for p in spec.params})
    if unknown:
        return [f"  (no picture: the spec has no param '{unknown[0]}')"]
    given = {}
    for p in spec.params:
        if p.name in param_text:
            try:
                given[p.name] = _convert(param_text[p.name], p.type)
            except ValueError as exc:
                return [f"  (no picture: param '{p.name}': {exc})"]
    try:
        params = sample_params(spec, given)
    except ValueError as exc:
        return [f"  (no picture: {exc})"]
    N, M = min(sizes["N"], PICTURE_MAX), min(sizes["M"], PICTURE_MAX)
    full = {"B": sizes["B"], "H": sizes["H"], "HKV": sizes["H"], "N": N, "M": M, "D": 16, "DV": 16}
    inputs = sample_inputs(spec, full, params)
    module = _import_source(render(spec, "torch"), f"attncc_show_{spec.name}")
    mask = module._mask(full, params, inputs)[min(batch, full["B"] - 1), min(head, full["H"] - 1)]
    allowed = int(mask.sum())
    shown = ", ".join(f"{k}={v}" for k, v in params.items())
    head_line = f"mask (N={N}, M={M}, batch {batch}, head {head}{'; ' + shown if shown else ''}"
    head_line += "; inputs sampled" if spec.inputs else ""
    lines = [head_line + "):"]
    lines += mask_picture(mask)
    lines.append(f"  {allowed} of {N * M} pairs allowed ({100.0 * allowed / (N * M):.1f} %)")
    return lines


def show(source: str, filename: str, sizes: Mapping[str, int], param_text: Mapping[str, str],
         batch: int = 0, head: int = 0) -> str:
    """The text `attncc show` prints for a spec."""
    spec = front_end(source, filename)
    family = "linear attention" if spec.is_linear else "softmax family"
    lines = [f"attention {spec.name} ({family})"]
    if spec.doc:
        lines.append(f"  \"{spec.doc}\"")
    lines += _declarations(spec)
    lines.append("as compiled (simplified):")
    lines += _expressions(spec)
    lines.append("derivatives for the backward pass:")
    lines += _derivatives(spec)
    if spec.tile.options:
        lines.append("tile: " + ", ".join(f"{k} = {' | '.join(map(str, v))}" for k, v in spec.tile.options))
    for warning in analyse_warnings(spec):
        lines.append(warning.format(source, filename))
    lines += _picture(spec, sizes, param_text, batch, head)
    return "\n".join(lines)
