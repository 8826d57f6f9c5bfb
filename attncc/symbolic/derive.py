"""Derivatives for the backward pass: `derive(spec) -> Derivatives`.

Before: an elaborated Spec (ir.Spec from `language.elaborate`; simplified or not). After: a frozen
`Derivatives` of simplified IR expressions:

- `dscore_ds`: d score / d s, in terms of s and whatever the score reads (softmax family);
- `dscore_ds_from_score`: the same derivative rewritten to use the forward's score where that
  removes s (softcap `cap * tanh(s / cap)` gives `1 - score ** 2 / cap ** 2`, sigmoid gives
  `score * (1 - score)`), or None when no such rewrite applies. It may contain `SCORE`,
  `ir.Var("score", "float", "score")`: by convention that Var stands for the value of the
  spec's score at the same (b, h, i, j), as the forward computes it (before masking).
- `dscore_dloads`: for each distinct float input read in the simplified score, in first-seen
  order, (the read as simplified IR, d score / d that read). Int and bool reads have none.
- `dsink_dloads`: the same for the softmax sink expression (empty without a sink).
- `dfeature_dx`: linear attention only: d feature / dx of the elementwise map (for
  `taylor2(g(x))`, the derivative of g).
- `ddecay_dloads`: linear attention only: (read, d decay / d read) for each float input read in
  the decay, as `dsink_dloads`.

Derivatives are taken almost everywhere: piecewise-constant functions (floor, ceil, sign, `//`,
`%`, comparisons) have derivative 0; relu'(0) = 0, max/min split ties at 1/2, abs'(0) = 0.
An expression may be int-typed where the derivative is integer-valued (alibi's d score /
d slopes[h] is `j - i`); consumers promote it. Fields not meaningful for the spec's family are
None (dscore_ds for linear specs, dfeature_dx for the softmax family).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import sympy as sp

from .. import ir
from .simplify import from_sympy, simplify, to_sympy, var_symbol

SCORE = ir.Var("score", ir.FLOAT, "score")


@dataclass(frozen=True)
class Derivatives:
    dscore_ds: Optional[ir.Expr] = None
    dscore_ds_from_score: Optional[ir.Expr] = None
    dscore_dloads: tuple[tuple[ir.Load, ir.Expr], ...] = ()
    dsink_dloads: tuple[tuple[ir.Load, ir.Expr], ...] = ()
    dfeature_dx: Optional[ir.Expr] = None
    ddecay_dloads: tuple[tuple[ir.Load, ir.Expr], ...] = ()


def _clean(d):
    """A sympy derivative with the almost-everywhere zeros of piecewise-constant parts applied."""
    d = d.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
    d = d.replace(lambda e: isinstance(e, sp.Derivative) and isinstance(e.expr, (sp.floor, sp.ceiling)),
                  lambda e: sp.S.Zero)
    # The chain rule through a compound argument leaves Subs(f'(t), t, arg): evaluate what is left.
    d = d.replace(lambda e: isinstance(e, sp.Subs), lambda e: e.doit())
    if d.has(sp.Derivative):
        raise ValueError(f"cannot differentiate: {d}")
    return d


def diff(expr: ir.Expr, var: ir.Expr) -> ir.Expr:
    """d expr / d var (var a Var or a Load of `expr`), simplified IR."""
    e = to_sympy(expr)
    x = to_sympy(var)
    return simplify(_typed_float(from_sympy(_clean(sp.diff(e, x)))))


def _typed_float(expr: ir.Expr) -> ir.Expr:
    if isinstance(expr, ir.Const) and expr.type == ir.INT:
        return ir.Const(float(expr.value), ir.FLOAT)
    return expr


def _load_derivatives(expr: ir.Expr) -> tuple[tuple[ir.Load, ir.Expr], ...]:
    simple = simplify(expr)
    out = []
    for load in ir.loads(simple):
        if load.type == ir.FLOAT:
            out.append((load, diff(simple, load)))
    return tuple(out)


def _in_terms_of_score(score: ir.Expr, dscore: ir.Expr) -> Optional[ir.Expr]:
    """`dscore` with s eliminated through the score's own value, if one rewrite does it."""
    s = var_symbol(ir.Var("s", ir.FLOAT, "score"))
    total = to_sympy(score)
    d = to_sympy(dscore)
    if s not in d.free_symbols:
        return None
    marker = sp.Dummy("t", real=True)
    candidates = [t for t in sp.preorder_traversal(total) if t.has(s) and (t.is_Function or t == s)]
    for t in candidates:
        outer = total.subs(t, marker)
        if outer.has(s) or not d.has(t):
            continue
        poly = sp.Poly(outer, marker) if outer.is_polynomial(marker) else None
        if poly is None or poly.degree() != 1:
            continue
        a, c = poly.all_coeffs()
        value = (var_symbol(SCORE) - c) / a
        rewritten = d.subs(t, value)
        if not rewritten.has(s):
            return simplify(from_sympy(rewritten))
    return None


def derive(spec: ir.Spec) -> Derivatives:
    """The derivatives the backward pass of `spec` needs (see the module docstring)."""
    if spec.is_linear:
        g = spec.feature.args[0] if spec.is_taylor2 else spec.feature
        decay = () if spec.decay is None else _load_derivatives(spec.decay)
        return Derivatives(dfeature_dx=diff(g, ir.Var("x", ir.FLOAT, "feature")), ddecay_dloads=decay)
    s = ir.Var("s", ir.FLOAT, "score")
    dscore_ds = diff(spec.score, s)
    sink = () if spec.norm.sink is None else _load_derivatives(spec.norm.sink)
    return Derivatives(
        dscore_ds=dscore_ds,
        dscore_ds_from_score=_in_terms_of_score(spec.score, dscore_ds),
        dscore_dloads=_load_derivatives(spec.score),
        dsink_dloads=sink,
    )
