"""Lower a softmax-family spec to the context of the Triton kernel templates.

Before: the driver's facts (symbolic.facts.SpecFacts) of a spec with `is_linear` False. After: a dict for backends/triton/*.jinja: the
simplified mask, score, scale and sink printed as Triton expressions (triton_printer.py),
the derivatives the backward needs (symbolic/derive.py), the tile facts (symbolic/tiles.py: when a
tile may hold an allowed pair, when it is full, the closed-form loop ranges from both sides),
the learnable reads whose gradients the kernels scatter, and the kernels' spec arguments. Every
decision is made here; the templates only place the strings.
"""

from __future__ import annotations

from .. import ir
from ..language.formatting import format_expr
from ..symbolic.facts import SpecFacts
from .hoist import invariant_factors, share
from .triton_common import argument_lines, gradient_read, spec_arguments
from .triton_printer import TritonPrinter


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
    """Loop ranges as code (tiles.py already clips them to [0, size]); None (no closed form) is
    the whole axis."""
    if ranges is None:
        return [("0", size)]
    return [(printer(lo), printer(hi)) for lo, hi in ranges]


def loop_plan(ranges, full, implied, may_code: str) -> list[dict]:
    """How macros.jinja's tile_loops runs each loop range's tiles (ranges as code, from
    _ranges; `full` and `implied` per range as in the context). A later range must not visit a
    tile an earlier one visited; per range:
    - "clip": the earlier ranges all start where this one does (or at 0), so together they
      visited every tile below their largest stop: this range starts after it;
    - "split": a second range (not clipped) runs as two segments, the tiles below the first
      range's and those above them;
    - "tests": what its tiles test: "seen" (a third or later range, neither clipped nor split:
      whether an earlier range visited the tile, and the may-test unless implied), "may" (the
      may-test only, on a range without a full part), or None;
    - "may": whether the may-test is needed at all (not proved implied by the range);
    - "paths": its main loops in program order, as `attncc inspect` labels them, per segment:
      "full" then "partial" with a full part; "dense" then "tested" where the may-test alone
      guards the tiles (the compiled kernels count the tiles that may hold a pair and run the
      one or the other); else "partial".
    """
    plan = []
    for k, (lo, _) in enumerate(ranges):
        may = may_code != "True" and not (k < len(implied) and implied[k])
        has_full = k < len(full) and full[k] is not None
        starts = {first for first, _ in ranges[:k]}
        clip = k > 0 and len(starts) == 1 and next(iter(starts)) in ("0", lo)
        split = k == 1 and not clip
        tests = "seen" if k > 1 and not clip else "may" if may and not has_full else None
        paths = ["full", "partial"] if has_full else ["dense", "tested"] if tests == "may" else ["partial"]
        plan.append({"clip": clip, "split": split, "tests": tests, "may": may, "paths": paths * (1 + split)})
    return plan


class _Pool:
    """Expressions gathered under keys, rewritten together (hoisting needs them all at once)."""

    def __init__(self):
        self.keys: list = []
        self.exprs: list[ir.Expr] = []

    def add(self, key, expr: ir.Expr) -> None:
        self.keys.append(key)
        self.exprs.append(expr)

    def rewrite(self, allowed, prefix: str, min_count: int, only=None):
        """Share subexpressions (see hoist.share) among the keys in `only` (default: all)."""
        chosen = [k for k, key in enumerate(self.keys) if only is None or key in only]
        bindings, new = share([self.exprs[k] for k in chosen], allowed, prefix, min_count)
        for k, expr in zip(chosen, new):
            self.exprs[k] = expr
        return bindings

    def __getitem__(self, key) -> ir.Expr:
        return self.exprs[self.keys.index(key)]


def position_products(exprs) -> bool:
    """Whether an int product in `exprs` involves a position (`i * M + j`, `i * width`): its
    value can pass int32 at long lengths, so the runtime widens the kernels' indices (IDX) by
    the call's lengths and int params too, not only by its tensors' strides."""
    return any(isinstance(node, ir.Op) and node.op == "mul" and node.type == ir.INT
               and {"i", "j"} & ir.free_vars(node) for expr in exprs if expr is not None for node in ir.walk(expr))


def _loops(ranges, full, implied, may_code) -> dict:
    """One side's loop context: its ranges and full parts as code, and their loop_plan."""
    return {"ranges": ranges, "full": full, "plan": loop_plan(ranges, full, list(implied), may_code)}


def _binding_lines(bindings, printer: TritonPrinter) -> list[str]:
    return [f"{name} = {printer(expr)}" for name, expr in bindings]


def softmax_context(analysed: SpecFacts) -> dict:
    """The template context for a softmax-family spec on the triton backend (see the module
    docstring); linear attention is lowered by triton_linear."""
    spec, simple, derivatives, facts = analysed.spec, analysed.simple, analysed.derivatives, analysed.tiles
    printer = TritonPrinter(index_dtype="IDX")
    program = {"b", "h"} | set(ir.SIZE_SYMBOLS) | {p.name for p in spec.params}
    # Under norm = softmax the kernels for 16-bit inputs work in base 2 (symbolic/base2.py): s and
    # the score are log2(e) times the spec's, and the derivatives read them so. Both forms are
    # printed; the constexpr BASE2 picks one.
    forms = analysed.base2
    # d score/ds in terms of the score the kernel already holds where a rewrite exists (softcap:
    # 1 - score^2 / cap^2, no second tanh), else in terms of s.
    dscore_ds = derivatives.dscore_ds_from_score or derivatives.dscore_ds
    sink = simple.norm.sink
    natural_reads = {"score": derivatives.dscore_dloads, "sink": derivatives.dsink_dloads}
    base2_reads = {"score": forms.dscore_dloads, "sink": forms.dsink_dloads} if forms else natural_reads

    def per_element(expr: ir.Expr) -> ir.Expr:
        return invariant_factors(expr, program)

    # Everything printed into the kernels, so that invariants are hoisted from all of it at once.
    pool = _Pool()
    pool.add("mask", simple.mask)
    pool.add("score", per_element(simple.score))
    pool.add("score2", per_element(forms.score if forms else simple.score))
    pool.add("dscore_ds", per_element(dscore_ds))
    pool.add("dscore_ds2", per_element(forms.dscore_ds if forms else dscore_ds))
    if sink is not None:
        pool.add("sink", per_element(sink))
        pool.add("sink2", per_element(forms.sink if forms else sink))
    pool.add("may", facts.may_be_true)
    pool.add("must", facts.must_be_true)
    for side, ranges, full in (("key", facts.key_ranges, facts.key_full), ("query", facts.query_ranges, facts.query_full)):
        for k, (lo, hi) in enumerate(ranges or ()):
            pool.add((side, k, "lo"), lo)
            pool.add((side, k, "hi"), hi)
            if k < len(full) and full[k] is not None:
                pool.add((side, k, "full_lo"), full[k][0])
                pool.add((side, k, "full_hi"), full[k][1])
    learnable = {x.name for x in spec.learnable_inputs}
    reads = {}  # "score" / "sink" -> [(input name, number of indices)] of the learnable reads
    for where, pairs in natural_reads.items():
        reads[where] = []
        in_base2 = [d for load, d in base2_reads[where] if load.input in learnable]
        for k, (load, derivative) in enumerate(p for p in pairs if p[0].input in learnable):
            reads[where].append((load.input, len(load.indices)))
            pool.add((where, k, "d"), per_element(derivative))
            pool.add((where, k, "d2"), per_element(in_base2[k]))
            for n, index in enumerate(load.indices):
                pool.add((where, k, n), index)
    invariants = pool.rewrite(program, "inv", 1)
    bound = program | {name for name, _ in invariants} | {"i_lo", "i_hi", "j_lo", "j_hi"}
    tile_shared = pool.rewrite(bound, "t", 2, only=("may", "must"))

    def ranges_of(side, original):
        if original is None:
            return None
        return tuple((pool[(side, k, "lo")], pool[(side, k, "hi")]) for k in range(len(original)))

    def full_of(side, original, size):
        """Per loop range, its full part as code, or None (see macros.jinja's tile_loops)."""
        if original is None:  # one loop over the whole axis: all of it full when the mask is
            return [("0", size) if facts.must_be_true == ir.TRUE else None]
        return [(printer(pool[(side, k, "full_lo")]), printer(pool[(side, k, "full_hi")]))
                if (side, k, "full_lo") in pool.keys else None for k in range(len(original))]

    def reads_of(where, first_slot):
        return [gradient_read(name, first_slot + k, [pool[(where, k, n)] for n in range(rank)],
                               pool[(where, k, "d")], printer, pool[(where, k, "d2")])
                for k, (name, rank) in enumerate(reads[where])]

    may_code = _condition(pool["may"], printer)
    spec_args, runtime_scalars = spec_arguments(spec)
    score_grads = reads_of("score", 0)
    # A read with one gradient slot per program is summed by rows with delta from the key loop
    # (backward.py.jinja's dQ kernel); under norm = none there is no delta, and per-pair reads
    # keep their per-pair sums.
    for r in score_grads:
        r["by_rows"] = not r["pairwise"] and simple.norm.kind in ("softmax", "sum")
    row_grads = [r for r in score_grads if r["by_rows"]]
    sink_grads = reads_of("sink", len(score_grads))
    # Learnable inputs the spec never reads get no gradient (None), as under torch autograd.
    read = {r["input"] for r in score_grads + sink_grads}
    learnable_read = [x for x in spec.learnable_inputs if x.name in read]
    grad_args = []
    for x in learnable_read:
        grad_args += [f"G_{x.name}"] + [f"G_{x.name}_s{k}" for k in range(len(x.dims))]

    def record_args(reads):
        return [name for r in reads for name in (f"RV{r['slot']}", f"RI{r['slot']}")]

    return {
        "invariant_lines": _binding_lines(invariants, printer),
        "tile_lines": _binding_lines(tile_shared, printer),
        "mask_code": printer(pool["mask"]),
        "score_code": printer.as_float(pool["score"]),
        "score2_code": printer.as_float(pool["score2"]),
        # A score without s that misses i or j (a param, a per-head read, a row or column term)
        # is a scalar, a column or a row in the kernels: it is broadcast to the tile.
        "score_is_tile": "s" in ir.free_vars(simple.score) or {"i", "j"} <= ir.free_vars(simple.score),
        "scale_code": printer.as_float(simple.scale),
        "sink_code": printer.as_float(pool["sink"]) if sink is not None else "",
        "sink2_code": printer.as_float(pool["sink2"]) if sink is not None else "",
        "dscore_ds_code": printer.as_float(pool["dscore_ds"]),
        "dscore_ds2_code": printer.as_float(pool["dscore_ds2"]),
        # A constant d score/ds is finite, so dz (0 on masked pairs) needs no select after it.
        "dscore_ds_constant": isinstance(dscore_ds, ir.Const),
        "dscore_ds_text": format_expr(dscore_ds),
        "may_code": may_code,
        "partial_code": _partial(pool["must"], printer),
        # Per side, its loop ranges, their full parts and how tile_loops runs them (loop_plan).
        "key_loops": _loops(_ranges(ranges_of("key", facts.key_ranges), "M", printer),
                            full_of("key", facts.key_ranges, "M"), facts.key_ranges_imply_may, may_code),
        "query_loops": _loops(_ranges(ranges_of("query", facts.query_ranges), "N", printer),
                              full_of("query", facts.query_ranges, "N"), facts.query_ranges_imply_may, may_code),
        "runtime_scalars": runtime_scalars,
        "kernel_extra_args": argument_lines(spec_args),
        "score_grad_args": argument_lines(grad_args + record_args(score_grads)) if score_grads else "",
        "sink_grad_args": argument_lines(grad_args + record_args(sink_grads)) if sink_grads else "",
        "score_grads": score_grads,
        "row_grads": row_grads,
        "dq_reads_dlse": bool(row_grads) and simple.norm.kind == "softmax",
        # Without a sink a softmax row's weights sum to 1, so they can be divided by their sum.
        "rows_renormalize": bool(row_grads) and simple.norm.kind == "softmax" and simple.norm.sink is None,
        "sink_grads": sink_grads,
        "input_names": tuple(x.name for x in spec.inputs),
        "learnable_names": tuple(x.name for x in learnable_read),
        "score_slots": tuple(r["input"] for r in score_grads),
        "sink_slots": tuple(r["input"] for r in sink_grads),
        "taylor2": False,
        "position_products": position_products((simple.mask, simple.score, sink)),
    }
