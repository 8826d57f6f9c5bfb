"""Common subexpressions and loop invariants, named once.

`share(exprs, allowed, prefix, min_count)` finds the subexpressions of `exprs` (input reads and
operators, never bare symbols or constants) that depend only on the Vars named in `allowed`
and occur at least `min_count` times, and returns `(bindings, rewritten)`:

- `bindings`: `(name, expr)` pairs in dependency order (a binding uses only earlier names);
- `rewritten`: `exprs` with each such subexpression replaced by `ir.Var(name, type, "bound")`.

With `min_count=1` and `allowed` the symbols that are fixed for a whole kernel program (b, h,
sizes, params) this hoists loop invariants; with `min_count=2` over one tile's conditions it is
plain common-subexpression elimination. Values are unchanged: reads are guarded (never out of
bounds), so evaluating one earlier than written is safe.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Iterable, Sequence

from .. import ir


def _qualifies(node: ir.Expr, allowed: frozenset) -> bool:
    if not isinstance(node, (ir.Op, ir.Load)):
        return False
    names = ir.free_vars(node)
    if not names <= allowed:
        return False
    # Constant-only operators are left to the printer (they print as literals or fold).
    return bool(names) or isinstance(node, ir.Load)


def share(exprs: Sequence[ir.Expr], allowed: Iterable[str], prefix: str,
          min_count: int = 1) -> tuple[list[tuple[str, ir.Expr]], list[ir.Expr]]:
    allowed = frozenset(allowed)
    counts = Counter(node for e in exprs for node in ir.walk(e) if _qualifies(node, allowed))
    named: dict[ir.Expr, ir.Var] = {}
    bindings: list[tuple[str, ir.Expr]] = []

    def rewrite(e: ir.Expr) -> ir.Expr:
        if isinstance(e, (ir.Const, ir.Var)):
            return e
        if e in named:
            return named[e]
        if isinstance(e, ir.Op):
            new = replace(e, args=tuple(rewrite(a) for a in e.args))
        else:
            new = replace(e, indices=tuple(rewrite(a) for a in e.indices))
        if counts.get(e, 0) >= min_count:
            var = ir.Var(f"{prefix}{len(bindings)}", e.type, "bound")
            named[e] = var
            bindings.append((var.name, new))
            return var
        return new

    return bindings, [rewrite(e) for e in exprs]


def _mul_factors(e: ir.Expr) -> list[ir.Expr]:
    if isinstance(e, ir.Op) and e.op == "mul" and e.type == ir.FLOAT:
        return _mul_factors(e.args[0]) + _mul_factors(e.args[1])
    return [e]


def _product(factors: list[ir.Expr]) -> ir.Expr:
    out = factors[0]
    for f in factors[1:]:
        out = ir.Op("mul", (out, f), ir.FLOAT if ir.FLOAT in (out.type, f.type) else ir.INT)
    return out


def invariant_factors(expr: ir.Expr, allowed: Iterable[str]) -> ir.Expr:
    """`expr` with each float division by a value fixed for the program (its Vars all in
    `allowed`) a multiplication by its reciprocal, and the fixed factors of every float product
    gathered into one factor, so that `share` hoists them: `0.69 * s / cap` becomes
    `s * (0.69 * (1.0 / cap))`, one multiply per element. Values agree to rounding (a
    reciprocal and a reassociated product each round once more)."""
    allowed = frozenset(allowed)

    def fixed(e: ir.Expr) -> bool:
        return ir.free_vars(e) <= allowed

    def rewrite(e: ir.Expr) -> ir.Expr:
        if isinstance(e, ir.Load):
            return replace(e, indices=tuple(rewrite(x) for x in e.indices))
        if not isinstance(e, ir.Op):
            return e
        e = replace(e, args=tuple(rewrite(a) for a in e.args))
        if e.op == "div" and e.type == ir.FLOAT and fixed(e.args[1]) and not fixed(e.args[0]):
            return rewrite(ir.Op("mul", (e.args[0], ir.Op("div", (ir.Const(1.0, ir.FLOAT), e.args[1]), ir.FLOAT)), ir.FLOAT))
        if e.op == "mul" and e.type == ir.FLOAT and not fixed(e):
            factors = _mul_factors(e)
            varying = [f for f in factors if not fixed(f)]
            constant = [f for f in factors if fixed(f)]
            if len(constant) > 1 or (constant and factors[-1] is not constant[0]):
                return _product(varying + ([_product(constant)] if constant else []))
        return e

    return rewrite(expr)
