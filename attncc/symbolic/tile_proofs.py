"""Which closed-form loop ranges make a tile's may-test redundant, proved once per spec.

A loop over range k of `TileFacts.key_ranges` (the tiles of keys `[lo, hi)` for a query tile
`[i_lo, i_hi]`) starts at `(lo // block) * block` and stops before `hi`, so every tile it runs
satisfies, for any block size `block >= 1`:

    j_lo + block - 1 >= lo,  j_hi >= lo,  j_lo < hi,  j_lo <= j_hi <= j_lo + block - 1,
    0 <= j_lo,  j_hi <= M - 1,  0 <= i_lo <= i_hi <= N - 1

(`j_hi >= lo`: either `j_hi = j_lo + block - 1`, or `j_hi = M - 1` and `lo < hi <= M`); the
query ranges of the dK/dV kernel likewise with i and j swapped. When `may_be_true` follows from
these by bounds.prove, the kernels drop the `if` around that range's tiles (it is what keeps
Triton's software pipeliner from multi-buffering the loads). Sound and incomplete: a goal the
prover cannot read (a `where`, a `!=`) is not proved.
"""

from __future__ import annotations

from typing import Optional

from .. import ir
from ..ir import INT
from .bounds import Form, facts_of, prove, range_facts
from .intervals import I_HI, I_LO, J_HI, J_LO, make_const, make_op

# The loop's block size, for any value >= 1. Its name cannot be a spec's (a spec's `block` param
# would otherwise be the same sympy symbol: the same unknown to the prover, and the same Var
# when simplify maps symbols back).
BLOCK = ir.Var("tile.block", INT, "tile")
_SIDES = {"j": (J_LO, J_HI, "M", I_LO, I_HI, "N"), "i": (I_LO, I_HI, "N", J_LO, J_HI, "M")}
_NEGATED = {"lt": "ge", "le": "gt", "gt": "le", "ge": "lt"}


def loop_facts(var: str, lo: ir.Expr, hi: ir.Expr) -> list[Form]:
    """What every tile of a loop over `[lo, hi)` on axis `var` ("j" or "i") satisfies."""
    v_lo, v_hi, size, o_lo, o_hi, o_size = _SIDES[var]
    size, o_size = ir.Var(size, INT, "size"), ir.Var(o_size, INT, "size")
    one = make_const(1)
    last = make_op("sub", make_op("add", v_lo, BLOCK), one)
    conditions = [
        make_op("ge", last, lo), make_op("ge", v_hi, lo), make_op("lt", v_lo, hi),
        make_op("ge", v_hi, v_lo), make_op("ge", last, v_hi), make_op("ge", make_op("sub", size, one), v_hi),
        make_op("ge", v_lo, make_const(0)), make_op("ge", BLOCK, one),
        make_op("ge", o_lo, make_const(0)), make_op("ge", o_hi, o_lo), make_op("ge", make_op("sub", o_size, one), o_hi),
    ]
    return [form for condition in conditions for form in facts_of(condition)] + range_facts()


def _goal_forms(cond: ir.Op) -> Optional[list[Form]]:
    """The forms (each >= 0) whose conjunction is exactly the comparison `cond`, or None when
    it is not an affine comparison once min / max / abs are split."""
    op, (a, b) = cond.op, cond.args
    if op in ("lt", "le"):
        a, b, op = b, a, {"lt": "gt", "le": "ge"}[op]
    if op not in ("gt", "ge") or a.type != INT or b.type != INT:
        return None
    return _split(a, b, op == "gt")


def _split(big: ir.Expr, small: ir.Expr, strict: bool) -> Optional[list[Form]]:
    if isinstance(small, ir.Op) and small.op == "max":
        parts = [_split(big, part, strict) for part in small.args]
    elif isinstance(small, ir.Op) and small.op == "abs":
        parts = [_split(big, small.args[0], strict), _split(big, make_op("neg", small.args[0]), strict)]
    elif isinstance(big, ir.Op) and big.op == "min":
        parts = [_split(part, small, strict) for part in big.args]
    else:
        forms = facts_of(make_op("gt" if strict else "ge", big, small))
        plain = not any(isinstance(x, ir.Op) and x.op in ("min", "max", "abs") for x in (big, small))
        return forms if plain and len(forms) == 1 else None
    return None if any(p is None for p in parts) else [f for p in parts for f in p]


def proves(cond: ir.Expr, facts: list[Form]) -> bool:
    """Whether `cond` (a boolean IR expression) holds wherever every fact does."""
    if isinstance(cond, ir.Const):
        return cond.value is True
    if not isinstance(cond, ir.Op):
        return False
    if cond.op == "and":
        return proves(cond.args[0], facts) and proves(cond.args[1], facts)
    if cond.op == "or":
        return proves(cond.args[0], facts) or proves(cond.args[1], facts)
    if cond.op == "not" and isinstance(cond.args[0], ir.Op) and cond.args[0].op in _NEGATED:
        inner = cond.args[0]
        return proves(make_op(_NEGATED[inner.op], *inner.args), facts)
    forms = _goal_forms(cond) if cond.op in ("lt", "le", "gt", "ge") else None
    return forms is not None and all(prove(form, facts) for form in forms)


def ranges_imply_may(may: ir.Expr, ranges, var: str) -> tuple[bool, ...]:
    """For each range (None: no closed form, no ranges): whether its tiles need no may-test."""
    if ranges is None:
        return ()
    return tuple(proves(may, loop_facts(var, lo, hi)) for lo, hi in ranges)
