"""The softmax family's kernels in base 2: every exponential an exp2, log2(e) folded into scales.

A softmax weight is exp(score - m) = exp2(log2(e) * score - log2(e) * m). The kernels compute
s2 = log2(e) * s (log2(e) folded into the scale of q . k, one multiply) and score2 = log2(e) *
score from it, so that the running max, the exponentials and the row statistics are in base 2
and no multiply by log2(e) is left per element. The kernels use these forms for 16-bit inputs
(the constexpr BASE2); 32- and 64-bit inputs keep natural units, since log2(e) * x can cross into
the next binade and double the rounding of a large logit.

Before: a simplified softmax-family spec and its derivatives (derive.py). After:
`base2_forms(spec, derivatives) -> Base2`, every expression the kernels print in terms of s2
(the kernels' `s`) and score2 (the kernels' `score`, `derive.SCORE`): the score and sink
multiplied by log2(e); d score/ds, d score/d read and d sink/d read (natural-unit derivatives:
the gradients are unchanged) with s = ln(2) * s2 and score = ln(2) * score2. Rewritten in sympy
with ln 2 exact, so `s` comes back as `s` and a bias `s + slope * (j - i)` as
`s + 1.4426950408889634 * slope * (j - i)`: nothing new per element but constants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Optional

import sympy as sp

from .. import ir
from .derive import SCORE, Derivatives
from .simplify import Unsupported, simplify_sympy, size, to_sympy, var_symbol

S = ir.Var("s", ir.FLOAT, "score")


@dataclass(frozen=True)
class Base2:
    score: ir.Expr
    sink: Optional[ir.Expr]
    dscore_ds: ir.Expr  # d score/ds (from the score's value where derive found that rewrite)
    dscore_dloads: tuple[tuple[ir.Load, ir.Expr], ...]
    dsink_dloads: tuple[tuple[ir.Load, ir.Expr], ...]


def _in_base2(expr: ir.Expr, times_log2e: bool) -> ir.Expr:
    """`expr` over s2 and score2 (times log2(e) when `times_log2e`), simplified."""
    ln2 = sp.Symbol("attncc_ln2", positive=True)  # exact while sympy cancels, then the float
    s, score = var_symbol(S), var_symbol(SCORE)
    try:
        e = to_sympy(expr).subs({s: s * ln2, score: score * ln2}, simultaneous=True)
    except (Unsupported, TypeError, ValueError):  # no sympy form (a nan constant): the plain rewrite
        return _substituted(expr, times_log2e)
    if times_log2e:
        e = e / ln2
    # A coefficient ln 2 * log2(e) that rounds to 1.0 is the exact 1 it stands for.
    forms = []
    for form in dict.fromkeys((e, sp.expand_mul(e), sp.factor_terms(e))):
        try:
            forms.append(simplify_sympy(form.subs(ln2, sp.Float(math.log(2))).xreplace({sp.Float(1.0): sp.S.One}),
                                        expr.type))
        except (Unsupported, TypeError, ValueError, RecursionError):
            continue
    return min(forms, key=size) if forms else _substituted(expr, times_log2e)


def _substituted(expr: ir.Expr, times_log2e: bool) -> ir.Expr:
    """The same rewrite on the IR, unsimplified."""
    def walk(e: ir.Expr) -> ir.Expr:
        if isinstance(e, ir.Var) and e in (S, SCORE):
            return ir.Op("mul", (e, ir.Const(math.log(2), ir.FLOAT)), ir.FLOAT)
        if isinstance(e, ir.Op):
            return replace(e, args=tuple(walk(a) for a in e.args))
        if isinstance(e, ir.Load):
            return replace(e, indices=tuple(walk(x) for x in e.indices))
        return e

    out = walk(expr)
    return ir.Op("mul", (ir.Const(1 / math.log(2), ir.FLOAT), out), ir.FLOAT) if times_log2e else out


def base2_forms(spec: ir.Spec, derivatives: Derivatives) -> Base2:
    """The base-2 forms of a softmax-norm spec (see the module docstring)."""
    dscore_ds = derivatives.dscore_ds_from_score or derivatives.dscore_ds
    return Base2(
        score=_in_base2(spec.score, True),
        sink=None if spec.norm.sink is None else _in_base2(spec.norm.sink, True),
        dscore_ds=_in_base2(dscore_ds, False),
        dscore_dloads=tuple((load, _in_base2(d, False)) for load, d in derivatives.dscore_dloads),
        dsink_dloads=tuple((load, _in_base2(d, False)) for load, d in derivatives.dsink_dloads),
    )
