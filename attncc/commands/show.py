"""`attncc show`: the spec as the compiler understands it, and a picture of its mask.

Prints the params and inputs, the simplified mask, score, sink, scale, feature and decay, the
derivatives the backward pass uses, warnings from the analyses, the mask for one (batch,
head) drawn with Unicode half blocks (two query rows per text line), and for the softmax family
how the kernel's tiles classify (empty / full / partial, and how many the key loop visits).
"""

from __future__ import annotations

from typing import Mapping, Optional

import torch

from .. import ir
from ..checks.samples import sample_inputs, sample_params
from ..codegen.render import render
from ..driver.loader import _import_source
from ..driver.pipeline import analyse, front_end
from ..ir.constfold import ConstFoldError
from ..language.formatting import format_expr
from ..symbolic.facts import SpecFacts
from ..symbolic.tile_counts import tile_counts

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


def _expressions(facts: SpecFacts) -> list[str]:
    spec, simple = facts.spec, facts.simple
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


def _derivatives(facts: SpecFacts) -> list[str]:
    d = facts.derivatives
    lines = []
    if facts.spec.is_linear:
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


def _params(spec: ir.Spec, param_text: Mapping[str, str]):
    """(the params' values, None), or (None, why there are none) for bad or missing values."""
    unknown = sorted(set(param_text) - {p.name for p in spec.params})
    if unknown:
        return None, f"the spec has no param '{unknown[0]}'"
    given = {}
    for p in spec.params:
        if p.name in param_text:
            try:
                given[p.name] = _convert(param_text[p.name], p.type)
            except ValueError as exc:
                return None, f"param '{p.name}': {exc}"
    try:
        return sample_params(spec, given), None
    except ValueError as exc:
        return None, str(exc)


def _picture(facts: SpecFacts, sizes: Mapping[str, int], params: dict, batch: int, head: int) -> list[str]:
    spec = facts.spec
    N, M = min(sizes["N"], PICTURE_MAX), min(sizes["M"], PICTURE_MAX)
    full = {"B": sizes["B"], "H": sizes["H"], "HKV": sizes["H"], "N": N, "M": M, "D": 16, "DV": 16}
    inputs = sample_inputs(spec, full, params)
    module = _import_source(render(facts, "torch"), f"attncc_show_{spec.name}")
    mask = module._mask(full, params, inputs)[min(batch, full["B"] - 1), min(head, full["H"] - 1)]
    allowed = int(mask.sum())
    shown = ", ".join(f"{k}={v}" for k, v in params.items())
    head_line = f"mask (N={N}, M={M}, batch {batch}, head {head}{'; ' + shown if shown else ''}"
    head_line += "; inputs sampled" if spec.inputs else ""
    lines = [head_line + "):"]
    lines += mask_picture(mask)
    lines.append(f"  {allowed} of {N * M} pairs allowed ({100.0 * allowed / (N * M):.1f} %)")
    return lines


def _tiles(analysed: SpecFacts, sizes: Mapping[str, int], params: dict, block_m: int, block_n: int) -> list[str]:
    """Tile counts of the kernel's classification at the full sizes, summed over every (b, h)."""
    spec, facts = analysed.spec, analysed.tiles
    full = {"B": sizes["B"], "H": sizes["H"], "HKV": sizes["H"], "N": sizes["N"], "M": sizes["M"], "D": 16, "DV": 16}
    head = (f"tiles (block_m={block_m}, block_n={block_n}, N={full['N']}, M={full['M']}, "
            f"summed over B={full['B']} x H={full['H']})")
    try:
        c = tile_counts(facts, full, params, sample_inputs(spec, full, params), block_m, block_n)
    except (ConstFoldError, ValueError, ZeroDivisionError) as exc:
        return [f"{head}: (no counts: {exc})"]
    lines = [f"{head}: {c['visited']} visited of {c['total']}; "
             f"empty {c['empty']}, full {c['full']}, partial {c['partial']}"]
    if facts.key_ranges is None:
        lines.append("  keys visited for queries [i_lo, i_hi]: all (no closed form)")
    else:
        shown = " + ".join(f"[{format_expr(lo)}, {format_expr(hi)})" for lo, hi in facts.key_ranges) or "none"
        lines.append(f"  keys visited for queries [i_lo, i_hi]: {shown}")
    return lines


def show(source: str, filename: str, sizes: Mapping[str, int], param_text: Mapping[str, str],
         batch: int = 0, head: int = 0, block_m: Optional[int] = None, block_n: Optional[int] = None) -> str:
    """The text `attncc show` prints for a spec. `block_m`/`block_n` (for the tile counts of the
    softmax family) default to the first value of the spec's `tile` statement, else 64."""
    facts = analyse(front_end(source, filename))
    spec = facts.spec
    family = "linear attention" if spec.is_linear else "softmax family"
    lines = [f"attention {spec.name} ({family})"]
    if spec.doc:
        lines.append(f"  \"{spec.doc}\"")
    lines += _declarations(spec)
    lines.append("as compiled (simplified):")
    lines += _expressions(facts)
    lines.append("derivatives for the backward pass:")
    lines += _derivatives(facts)
    if spec.tile.options:
        lines.append("tile: " + ", ".join(f"{k} = {' | '.join(map(str, v))}" for k, v in spec.tile.options))
    for warning in facts.warnings:
        lines.append(warning.format(source, filename))
    params, why = _params(spec, param_text)
    if params is None:
        lines.append(f"  (no picture: {why})")
        return "\n".join(lines)
    lines += _picture(facts, sizes, params, batch, head)
    if not spec.is_linear:
        block_m = block_m or (spec.tile.get("block_m") or (64,))[0]
        block_n = block_n or (spec.tile.get("block_n") or (64,))[0]
        lines += _tiles(facts, sizes, params, block_m, block_n)
    return "\n".join(lines)
