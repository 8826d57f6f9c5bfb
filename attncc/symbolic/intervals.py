"""Interval arithmetic over one kernel tile, emitted as IR.

For a tile of queries `i` in `[I_LO, I_HI]` and keys `j` in `[J_LO, J_HI]` (b, h, sizes and
params fixed), `Intervals(spec).num(e)` gives `(lo, hi)` IR bounds of an int or float expression
over the tile (None: unknown) and `Intervals(spec).cond(e)` gives `(may, must)` for a bool one:
may false means false on the whole tile, must true means true on the whole tile. Everything is
sound: a part that cannot be bounded is "anything". The small IR builders here (`make_op`,
`make_const`, `fold_ops`) type, constant-fold and lightly simplify what they build;
tiles.py uses them for the closed-form loop ranges.
"""

from __future__ import annotations

import math
from typing import Mapping, Optional

from ..ir import constfold
from .. import ir
from ..ir import BOOL, FLOAT, INT
from ..ir.typing_rules import result_type

I_LO, I_HI, J_LO, J_HI = (ir.Var(n, ir.INT, "tile") for n in ("i_lo", "i_hi", "j_lo", "j_hi"))
_TILE = {"i": (I_LO, I_HI), "j": (J_LO, J_HI)}
_MOVING = frozenset({"i", "j", "s", "x"})
MAX_NODES = 80  # a range expression bigger than this is given up (taken as unknown)
MAX_TEST = 400  # the same for a may / must test
SMALL = 8  # the size of the operand range under which `%` is refined (to a point or a run)
_MONOTONE = {"exp", "exp2", "tanh", "sigmoid", "softplus", "relu", "erf", "floor", "ceil", "sign", "elu"}
NEGATE = {"lt": "ge", "le": "gt", "gt": "le", "ge": "lt", "eq": "ne", "ne": "eq"}
SWAP = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le", "eq": "eq", "ne": "ne"}


# ---------------------------------------------------------------- building folded IR

def make_const(v) -> ir.Const:
    return ir.Const(v, BOOL if isinstance(v, bool) else INT if isinstance(v, int) else FLOAT)


def _is(e: ir.Expr, v) -> bool:
    return isinstance(e, ir.Const) and type(e.value) is type(v) and e.value == v


def _size(e: ir.Expr) -> int:
    return sum(1 for _ in ir.walk(e))


def is_fixed(e: ir.Expr) -> bool:
    """No i, j (nor s, x) inside: the value is one scalar over a tile."""
    return not (ir.free_vars(e) & _MOVING)


def make_op(name: str, *args: ir.Expr) -> ir.Expr:
    """`Op(name, args)` typed by the language's rules, constant-folded and lightly simplified."""
    typ = result_type(name, tuple(a.type for a in args))
    if all(isinstance(a, ir.Const) for a in args):
        try:
            v = constfold.evaluate(ir.Op(name, args, typ), {})
        except constfold.ConstFoldError:
            v = None
        if isinstance(v, (bool, int, float)) and not (isinstance(v, float) and math.isnan(v)):
            return make_const({BOOL: bool, INT: int, FLOAT: float}[typ](v))
    out = _rewrite(name, args, typ)
    return out if out is not None else ir.Op(name, tuple(args), typ)


def _rewrite(name: str, args: tuple, typ: str) -> Optional[ir.Expr]:
    a = args[0]
    b = args[1] if len(args) > 1 else None
    ints = typ == INT
    if name in ("add", "sub") and ints and isinstance(b, ir.Const):
        a, k = _pull(a)
        k += b.value if name == "add" else -b.value
        return a if k == 0 else ir.Op("add" if k > 0 else "sub", (a, make_const(abs(k))), INT)
    if name == "max" and ints and any(_is(x, 0) and _nonneg(y) for x, y in ((a, b), (b, a))):
        return b if _is(a, 0) else a
    if name == "add" and ints and isinstance(a, ir.Const):
        return make_op("add", b, a)
    if name == "sub" and ints and (a == b):
        return make_const(0)
    if name == "sub" and ints and _is(a, 0):
        return make_op("neg", b)
    if name == "neg" and isinstance(a, ir.Op) and a.op in ("neg", "sub"):
        return a.args[0] if a.op == "neg" else make_op("sub", a.args[1], a.args[0])
    if name == "neg" and ints and isinstance(a, ir.Op) and a.op == "add" and isinstance(a.args[1], ir.Const):
        return make_op("sub", make_op("neg", a.args[0]), a.args[1])
    if name in ("add", "sub") and isinstance(b, ir.Op) and b.op == "neg":
        return make_op("sub" if name == "add" else "add", a, b.args[0])
    if name == "mul" and ints:
        for x, y in ((a, b), (b, a)):
            if _is(x, 1):
                return y
            if _is(x, 0):
                return x
            if _is(x, -1):
                return make_op("neg", y)
    if name == "floordiv" and _is(b, 1):
        return a
    if name == "mod" and _is(b, 1):
        return make_const(0)
    if name in ("min", "max") and a == b:
        return a
    if name in ("le", "ge", "eq") and a == b and a.type == INT:
        return ir.TRUE
    if name in ("lt", "gt", "ne") and a == b and a.type == INT:
        return ir.FALSE
    if name in ("and", "or"):
        unit, zero = (True, False) if name == "and" else (False, True)
        for x, y in ((a, b), (b, a)):
            if _is(x, unit):
                return y
            if _is(x, zero):
                return x
        if a == b:
            return a
    if name == "not":
        if isinstance(a, ir.Op) and a.op == "not":
            return a.args[0]
        if isinstance(a, ir.Op) and a.op in NEGATE and a.args[0].type == INT == a.args[1].type:
            return make_op(NEGATE[a.op], *a.args)
    if name == "where":
        c, x, y = args
        if isinstance(c, ir.Const):
            return x if c.value else y
        if x == y:
            return x
    return None


def _pull(e: ir.Expr) -> tuple[ir.Expr, int]:
    """An int sum as (the sum without the constants of its left spine, their total)."""
    if isinstance(e, ir.Op) and e.op in ("add", "sub") and e.type == INT:
        a, b = e.args
        if isinstance(b, ir.Const):
            base, k = _pull(a)
            return base, k + (b.value if e.op == "add" else -b.value)
        base, k = _pull(a)
        if k:
            return ir.Op(e.op, (base, b), INT), k
    return e, 0


def _nonneg(e: ir.Expr) -> bool:
    """A cheap proof that the int `e` is >= 0 (tile bounds, b, h, sizes, sums of such...)."""
    if isinstance(e, ir.Const):
        return e.value >= 0
    if isinstance(e, ir.Var):
        return e.kind in ("tile", "size") or e.name in ("b", "h")
    if isinstance(e, ir.Op) and e.op in ("add", "mul", "max", "min"):
        return (any if e.op == "max" else all)(_nonneg(x) for x in e.args)
    if isinstance(e, ir.Op) and e.op in ("floordiv", "mod"):
        return isinstance(e.args[1], ir.Const) and e.args[1].value > 0 and (e.op == "mod" or _nonneg(e.args[0]))
    return False


def fold_ops(name: str, items: list) -> ir.Expr:
    out = items[0]
    for x in items[1:]:
        out = make_op(name, out, x)
    return out


def _subst(e: ir.Expr, env: Mapping[str, ir.Expr]) -> ir.Expr:
    if isinstance(e, ir.Var):
        return env.get(e.name, e)
    if isinstance(e, ir.Load):
        return ir.Load(e.input, tuple(_subst(x, env) for x in e.indices), e.type)
    if isinstance(e, ir.Op):
        return make_op(e.op, *(_subst(x, env) for x in e.args))
    return e


def _mono(e: ir.Expr) -> Optional[dict]:
    """{var: +1 | -1} for the i/j `e` is non-decreasing / non-increasing in; None if unknown."""
    if is_fixed(e):
        return {}
    if isinstance(e, ir.Var):
        return {e.name: 1} if e.name in _TILE else None
    if not isinstance(e, ir.Op):
        return None
    parts = None
    if e.op in ("add", "min", "max", "clamp"):
        parts = [(_mono(x), 1) for x in e.args]
    elif e.op == "sub":
        parts = [(_mono(e.args[0]), 1), (_mono(e.args[1]), -1)]
    elif e.op == "neg":
        parts = [(_mono(e.args[0]), -1)]
    elif e.op == "mul" and e.type == INT:
        a, b = e.args
        a, c = (b, a) if isinstance(a, ir.Const) else (a, b)
        parts = [(_mono(a), (c.value > 0) - (c.value < 0))] if isinstance(c, ir.Const) else None
    elif e.op == "floordiv" and isinstance(e.args[1], ir.Const) and e.args[1].value > 0:
        parts = [(_mono(e.args[0]), 1)]
    if parts is None or any(m is None for m, _ in parts):
        return None
    out: dict = {}
    for m, sign in parts:
        for v, s in m.items():
            if sign and out.setdefault(v, s * sign) != s * sign:
                return None
    return out


# ---------------------------------------------------------------- interval arithmetic

class Intervals:
    """Ranges over one tile as IR: `num(e)` -> (lo, hi) or None, `cond(e)` -> (may, must).

    Non-constant divisors met on the way are assumed positive and collected in `divisors`:
    every fact built is valid only where they all are.
    """

    def __init__(self, spec: ir.Spec):
        self.inputs = {x.name: x for x in spec.inputs}
        self.divisors: dict = {}
        self.positive = {e.args[1] for e in ir.walk(spec.mask) if isinstance(e, ir.Op)
                         and e.op in ("floordiv", "mod") and is_fixed(e.args[1]) and not isinstance(e.args[1], ir.Const)}
        self._num: dict = {}
        self._cond: dict = {}

    def num(self, e: ir.Expr):
        if e not in self._num:
            r = self._number(e)
            if r is not None and max(_size(r[0]), _size(r[1])) > MAX_NODES:
                r = None
            self._num[e] = r
        return self._num[e]

    def cond(self, e: ir.Expr):
        if e not in self._cond:
            may, must = self._condition(e)
            self._cond[e] = (may if _size(may) <= MAX_TEST else ir.TRUE, must if _size(must) <= MAX_TEST else ir.FALSE)
        return self._cond[e]

    def sign(self, d: ir.Expr) -> int:
        """+1 / -1 for a divisor of known sign (non-constant fixed ones assumed positive); 0 = unknown."""
        if isinstance(d, ir.Const):
            return (d.value > 0) - (d.value < 0)
        if is_fixed(d) and d.type == INT:
            self.divisors.setdefault(d, None)
            return 1
        return 0

    def _number(self, e: ir.Expr):
        if is_fixed(e):
            return e, e
        if isinstance(e, ir.Var):
            return _TILE.get(e.name)
        if isinstance(e, ir.Load):
            return self._load(e)
        op, args = e.op, e.args
        if op in ("floordiv", "mod", "div") or (op == "mul" and is_fixed(args[0]) != is_fixed(args[1])):
            return self._scaled(op, *args)
        rs = [self.num(x) for x in args] if op != "where" else None
        if rs is not None and any(r is None for r in rs):
            return None
        if op == "add":
            return make_op("add", rs[0][0], rs[1][0]), make_op("add", rs[0][1], rs[1][1])
        if op == "sub":
            return make_op("sub", rs[0][0], rs[1][1]), make_op("sub", rs[0][1], rs[1][0])
        if op == "neg":
            return make_op("neg", rs[0][1]), make_op("neg", rs[0][0])
        if op in ("min", "max", "clamp") or op in _MONOTONE:
            return make_op(op, *(r[0] for r in rs)), make_op(op, *(r[1] for r in rs))
        if op == "abs":
            lo, hi = rs[0]
            return make_op("max", make_op("max", lo, make_op("neg", hi)), make_const(0)), make_op("max", make_op("neg", lo), hi)
        if op == "mul":
            products = [make_op("mul", x, y) for x in rs[0] for y in rs[1]]
            return fold_ops("min", products), fold_ops("max", products)
        if op == "where":
            return self._where(*args)
        return None

    def _scaled(self, op: str, x: ir.Expr, d: ir.Expr):
        """x // d, x % d, x / d, x * d or d * x, with d fixed: monotone in x once d's sign is known."""
        if op == "mul" and is_fixed(x):
            x, d = d, x
        if not is_fixed(d):
            return None
        r = self.num(x)
        if r is None:
            return None
        lo, hi = r
        if op == "mul" and not isinstance(d, ir.Const) and d not in self.positive:
            ends = [make_op("mul", lo, d), make_op("mul", hi, d)]
            return make_op("min", *ends), make_op("max", *ends)
        if op == "div" and not isinstance(d, ir.Const):
            ends = [make_op("div", lo, d), make_op("div", hi, d)]
            return make_op("min", *ends), make_op("max", *ends)
        sign = self.sign(d)
        if sign == 0:
            return None
        if op == "mod" and _size(lo) + _size(hi) > SMALL:  # not worth refining: the remainder's range
            return (make_const(0), make_op("sub", d, make_const(1))) if sign > 0 else (make_op("add", d, make_const(1)), make_const(0))
        if op == "mod":
            same = make_op("eq", make_op("floordiv", lo, d), make_op("floordiv", hi, d))
            floor, ceil = (make_const(0), make_op("sub", d, make_const(1))) if sign > 0 else (make_op("add", d, make_const(1)), make_const(0))
            return make_op("where", same, make_op("mod", lo, d), floor), make_op("where", same, make_op("mod", hi, d), ceil)
        ends = (make_op(op, lo, d), make_op(op, hi, d))
        return ends if sign > 0 else ends[::-1]

    def _where(self, c: ir.Expr, a: ir.Expr, b: ir.Expr):
        ra, rb = self.num(a), self.num(b)
        if ra is None or rb is None:
            return None
        if is_fixed(c):
            return make_op("where", c, ra[0], rb[0]), make_op("where", c, ra[1], rb[1])
        may, must = self.cond(c)
        lo = make_op("where", must, ra[0], make_op("where", may, make_op("min", ra[0], rb[0]), rb[0]))
        hi = make_op("where", must, ra[1], make_op("where", may, make_op("max", ra[1], rb[1]), rb[1]))
        return lo, hi

    def _load(self, e: ir.Load):
        """A read of a sorted input at a last index monotone in i/j: bounded by its two ends."""
        decl = self.inputs.get(e.input)
        if decl is None or not decl.sorted or e.type == BOOL or not all(is_fixed(x) for x in e.indices[:-1]):
            return None
        m = _mono(e.indices[-1])
        if m is None:
            return None
        first = _subst(e.indices[-1], {v: _TILE[v][0 if s > 0 else 1] for v, s in m.items()})
        last = _subst(e.indices[-1], {v: _TILE[v][1 if s > 0 else 0] for v, s in m.items()})
        dim = decl.dims[-1]
        inside = []
        if not _nonneg(first):
            inside.append(make_op("ge", first, make_const(0)))
            first = make_op("max", first, make_const(0))
        known = (last in _TILE["i"] and dim == ir.Var("N", INT, "size")) or \
                (last in _TILE["j"] and dim == ir.Var("M", INT, "size"))
        if not known:
            inside.append(make_op("lt", last, dim))
            last = make_op("min", last, make_op("sub", dim, make_const(1)))
        lo = ir.Load(e.input, e.indices[:-1] + (first,), e.type)
        hi = ir.Load(e.input, e.indices[:-1] + (last,), e.type)
        if inside:  # a read outside the table gives 0
            ok = fold_ops("and", inside)
            zero = make_const(0) if e.type == INT else make_const(0.0)
            lo, hi = make_op("where", ok, lo, make_op("min", lo, zero)), make_op("where", ok, hi, make_op("max", hi, zero))
        return lo, hi

    def _condition(self, e: ir.Expr):
        unknown = (ir.TRUE, ir.FALSE)
        if is_fixed(e):
            return e, e
        if not isinstance(e, ir.Op):
            return unknown
        op, args = e.op, e.args
        if op in ("and", "or"):
            (a1, a2), (b1, b2) = self.cond(args[0]), self.cond(args[1])
            return make_op(op, a1, b1), make_op(op, a2, b2)
        if op == "not":
            may, must = self.cond(args[0])
            return make_op("not", must), make_op("not", may)
        if op == "where":
            c, a, b = args
            return self.cond(make_op("or", make_op("and", c, a), make_op("and", make_op("not", c), b)))
        if op in ("eq", "ne") and args[0].type == BOOL:
            (a1, a2), (b1, b2) = self.cond(args[0]), self.cond(args[1])
            may = make_op("or", make_op("and", a1, b1), make_op("and", make_op("not", a2), make_op("not", b2)))
            must = make_op("or", make_op("and", a2, b2), make_op("and", make_op("not", a1), make_op("not", b1)))
            return (may, must) if op == "eq" else (make_op("not", must), make_op("not", may))
        if op not in NEGATE:
            return unknown
        ra, rb = self.num(args[0]), self.num(args[1])
        if ra is None or rb is None:
            return unknown
        if op in ("gt", "ge"):
            (ra, rb), op = (rb, ra), SWAP[op]
        (alo, ahi), (blo, bhi) = ra, rb
        if op in ("lt", "le"):
            return make_op(op, alo, bhi), make_op(op, ahi, blo)
        may = make_op("and", make_op("le", alo, bhi), make_op("le", blo, ahi))
        must = make_op("eq", alo, blo)
        for lo, hi in ((alo, ahi), (blo, bhi)):
            if lo != hi:
                must = make_op("and", must, make_op("eq", lo, hi))
        return (may, must) if op == "eq" else (make_op("not", must), make_op("not", may))
