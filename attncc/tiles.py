"""Per-tile mask facts: empty / full tests and closed-form loop bounds, as IR.

A kernel tile is the queries `i` in `[i_lo, i_hi]` and the keys `j` in `[j_lo, j_hi]` (inclusive,
real rows and columns: `0 <= i_lo <= i_hi < N`, `0 <= j_lo <= j_hi < M`), with `b` and `h` fixed.
`analyse_tiles(spec)` answers, as ordinary IR over `I_LO .. J_HI`, `b`, `h`, sizes, params and
input loads (never `i`, `j` or `s`):

- `may_be_true`: false => the mask is false on the whole tile (skip it);
- `must_be_true`: true => the mask is true on the whole tile (no mask evaluation);
- `key_ranges`: half-open `[lo, hi)` ranges of `j` (in terms of `I_LO`, `I_HI`) whose union holds
  every key the mask may allow for some query of `[i_lo, i_hi]`; `None` = no closed form;
- `query_ranges`: the same from the key side (ranges of `i` in terms of `J_LO`, `J_HI`).

Each range is clipped to `[0, M]` (`[0, N]` for queries); `lo >= hi` means empty; ranges may
overlap (a consumer must not visit a key twice). Everything is sound, never exact by luck: a
part the analysis cannot bound is taken as "anything" (a number with no range, a condition
that may be true and need not be). Non-constant divisors of `//` and `%` (params, loads) are
assumed positive and the facts are guarded by that assumption (when it fails at run time, the
tile is partial and every key is visited).

Method: interval arithmetic generated as IR (a sub-expression without `i`/`j` is exact; reads of a
`sorted` input at an index monotone in `i`/`j` are bounded by their two ends), and for the
ranges, the mask in disjunctive form whose atoms `c * t + g <= 0` with `t` = `j` or `j // d // ..`
and `g` free of `j` bound `j` through the interval of `g` over the tile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Optional

from . import constfold, ir
from .ir import BOOL, FLOAT, INT
from .typing_rules import result_type

I_LO, I_HI, J_LO, J_HI = (ir.Var(n, ir.INT, "tile") for n in ("i_lo", "i_hi", "j_lo", "j_hi"))
_TILE = {"i": (I_LO, I_HI), "j": (J_LO, J_HI)}
_MOVING = frozenset({"i", "j", "s", "x"})
MAX_NODES = 80  # a range expression bigger than this is given up (taken as unknown)
MAX_TEST = 400  # the same for a may / must test
SMALL = 8  # the size of the operand range under which `%` is refined (to a point or a run)
MAX_RANGES = 4
MAX_DISJUNCTS = 16
_MONOTONE = {"exp", "exp2", "tanh", "sigmoid", "softplus", "relu", "erf", "floor", "ceil", "sign", "elu"}
_NEGATE = {"lt": "ge", "le": "gt", "gt": "le", "ge": "lt", "eq": "ne", "ne": "eq"}
_SWAP = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le", "eq": "eq", "ne": "ne"}


@dataclass(frozen=True)
class TileFacts:
    may_be_true: ir.Expr
    must_be_true: ir.Expr
    key_ranges: Optional[tuple[tuple[ir.Expr, ir.Expr], ...]]
    query_ranges: Optional[tuple[tuple[ir.Expr, ir.Expr], ...]]


# ---------------------------------------------------------------- building folded IR

def _const(v) -> ir.Const:
    return ir.Const(v, BOOL if isinstance(v, bool) else INT if isinstance(v, int) else FLOAT)


def _is(e: ir.Expr, v) -> bool:
    return isinstance(e, ir.Const) and type(e.value) is type(v) and e.value == v


def _size(e: ir.Expr) -> int:
    return sum(1 for _ in ir.walk(e))


def _fixed(e: ir.Expr) -> bool:
    """No i, j (nor s, x) inside: the value is one scalar over a tile."""
    return not (ir.free_vars(e) & _MOVING)


def _op(name: str, *args: ir.Expr) -> ir.Expr:
    """`Op(name, args)` typed by the language's rules, constant-folded and lightly simplified."""
    typ = result_type(name, tuple(a.type for a in args))
    if all(isinstance(a, ir.Const) for a in args):
        try:
            v = constfold.evaluate(ir.Op(name, args, typ), {})
        except constfold.ConstFoldError:
            v = None
        if isinstance(v, (bool, int, float)) and not (isinstance(v, float) and math.isnan(v)):
            return _const({BOOL: bool, INT: int, FLOAT: float}[typ](v))
    out = _rewrite(name, args, typ)
    return out if out is not None else ir.Op(name, tuple(args), typ)


def _rewrite(name: str, args: tuple, typ: str) -> Optional[ir.Expr]:
    a = args[0]
    b = args[1] if len(args) > 1 else None
    ints = typ == INT
    if name in ("add", "sub") and ints and isinstance(b, ir.Const):
        a, k = _pull(a)
        k += b.value if name == "add" else -b.value
        return a if k == 0 else ir.Op("add" if k > 0 else "sub", (a, _const(abs(k))), INT)
    if name == "max" and ints and any(_is(x, 0) and _nonneg(y) for x, y in ((a, b), (b, a))):
        return b if _is(a, 0) else a
    if name == "add" and ints and isinstance(a, ir.Const):
        return _op("add", b, a)
    if name == "sub" and ints and (a == b):
        return _const(0)
    if name == "sub" and ints and _is(a, 0):
        return _op("neg", b)
    if name == "neg" and isinstance(a, ir.Op) and a.op in ("neg", "sub"):
        return a.args[0] if a.op == "neg" else _op("sub", a.args[1], a.args[0])
    if name == "neg" and ints and isinstance(a, ir.Op) and a.op == "add" and isinstance(a.args[1], ir.Const):
        return _op("sub", _op("neg", a.args[0]), a.args[1])
    if name in ("add", "sub") and isinstance(b, ir.Op) and b.op == "neg":
        return _op("sub" if name == "add" else "add", a, b.args[0])
    if name == "mul" and ints:
        for x, y in ((a, b), (b, a)):
            if _is(x, 1):
                return y
            if _is(x, 0):
                return x
            if _is(x, -1):
                return _op("neg", y)
    if name == "floordiv" and _is(b, 1):
        return a
    if name == "mod" and _is(b, 1):
        return _const(0)
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
        if isinstance(a, ir.Op) and a.op in _NEGATE and a.args[0].type == INT == a.args[1].type:
            return _op(_NEGATE[a.op], *a.args)
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


def _fold(name: str, items: list) -> ir.Expr:
    out = items[0]
    for x in items[1:]:
        out = _op(name, out, x)
    return out


def _subst(e: ir.Expr, env: Mapping[str, ir.Expr]) -> ir.Expr:
    if isinstance(e, ir.Var):
        return env.get(e.name, e)
    if isinstance(e, ir.Load):
        return ir.Load(e.input, tuple(_subst(x, env) for x in e.indices), e.type)
    if isinstance(e, ir.Op):
        return _op(e.op, *(_subst(x, env) for x in e.args))
    return e


def _mono(e: ir.Expr) -> Optional[dict]:
    """{var: +1 | -1} for the i/j `e` is non-decreasing / non-increasing in; None if unknown."""
    if _fixed(e):
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

class _Intervals:
    """Ranges over one tile as IR: `num(e)` -> (lo, hi) or None, `cond(e)` -> (may, must).

    Non-constant divisors met on the way are assumed positive and collected in `divisors`:
    every fact built is valid only where they all are.
    """

    def __init__(self, spec: ir.Spec):
        self.inputs = {x.name: x for x in spec.inputs}
        self.divisors: dict = {}
        self.positive = {e.args[1] for e in ir.walk(spec.mask) if isinstance(e, ir.Op)
                         and e.op in ("floordiv", "mod") and _fixed(e.args[1]) and not isinstance(e.args[1], ir.Const)}
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

    def _sign(self, d: ir.Expr) -> int:
        """+1 / -1 for a divisor of known sign (non-constant fixed ones assumed positive); 0 = unknown."""
        if isinstance(d, ir.Const):
            return (d.value > 0) - (d.value < 0)
        if _fixed(d) and d.type == INT:
            self.divisors.setdefault(d, None)
            return 1
        return 0

    def _number(self, e: ir.Expr):
        if _fixed(e):
            return e, e
        if isinstance(e, ir.Var):
            return _TILE.get(e.name)
        if isinstance(e, ir.Load):
            return self._load(e)
        op, args = e.op, e.args
        if op in ("floordiv", "mod", "div") or (op == "mul" and _fixed(args[0]) != _fixed(args[1])):
            return self._scaled(op, *args)
        rs = [self.num(x) for x in args] if op != "where" else None
        if rs is not None and any(r is None for r in rs):
            return None
        if op == "add":
            return _op("add", rs[0][0], rs[1][0]), _op("add", rs[0][1], rs[1][1])
        if op == "sub":
            return _op("sub", rs[0][0], rs[1][1]), _op("sub", rs[0][1], rs[1][0])
        if op == "neg":
            return _op("neg", rs[0][1]), _op("neg", rs[0][0])
        if op in ("min", "max", "clamp") or op in _MONOTONE:
            return _op(op, *(r[0] for r in rs)), _op(op, *(r[1] for r in rs))
        if op == "abs":
            lo, hi = rs[0]
            return _op("max", _op("max", lo, _op("neg", hi)), _const(0)), _op("max", _op("neg", lo), hi)
        if op == "mul":
            products = [_op("mul", x, y) for x in rs[0] for y in rs[1]]
            return _fold("min", products), _fold("max", products)
        if op == "where":
            return self._where(*args)
        return None

    def _scaled(self, op: str, x: ir.Expr, d: ir.Expr):
        """x // d, x % d, x / d, x * d or d * x, with d fixed: monotone in x once d's sign is known."""
        if op == "mul" and _fixed(x):
            x, d = d, x
        if not _fixed(d):
            return None
        r = self.num(x)
        if r is None:
            return None
        lo, hi = r
        if op == "mul" and not isinstance(d, ir.Const) and d not in self.positive:
            ends = [_op("mul", lo, d), _op("mul", hi, d)]
            return _op("min", *ends), _op("max", *ends)
        if op == "div" and not isinstance(d, ir.Const):
            ends = [_op("div", lo, d), _op("div", hi, d)]
            return _op("min", *ends), _op("max", *ends)
        sign = self._sign(d)
        if sign == 0:
            return None
        if op == "mod" and _size(lo) + _size(hi) > SMALL:  # not worth refining: the remainder's range
            return (_const(0), _op("sub", d, _const(1))) if sign > 0 else (_op("add", d, _const(1)), _const(0))
        if op == "mod":
            same = _op("eq", _op("floordiv", lo, d), _op("floordiv", hi, d))
            floor, ceil = (_const(0), _op("sub", d, _const(1))) if sign > 0 else (_op("add", d, _const(1)), _const(0))
            return _op("where", same, _op("mod", lo, d), floor), _op("where", same, _op("mod", hi, d), ceil)
        ends = (_op(op, lo, d), _op(op, hi, d))
        return ends if sign > 0 else ends[::-1]

    def _where(self, c: ir.Expr, a: ir.Expr, b: ir.Expr):
        ra, rb = self.num(a), self.num(b)
        if ra is None or rb is None:
            return None
        if _fixed(c):
            return _op("where", c, ra[0], rb[0]), _op("where", c, ra[1], rb[1])
        may, must = self.cond(c)
        lo = _op("where", must, ra[0], _op("where", may, _op("min", ra[0], rb[0]), rb[0]))
        hi = _op("where", must, ra[1], _op("where", may, _op("max", ra[1], rb[1]), rb[1]))
        return lo, hi

    def _load(self, e: ir.Load):
        """A read of a sorted input at a last index monotone in i/j: bounded by its two ends."""
        decl = self.inputs.get(e.input)
        if decl is None or not decl.sorted or e.type == BOOL or not all(_fixed(x) for x in e.indices[:-1]):
            return None
        m = _mono(e.indices[-1])
        if m is None:
            return None
        first = _subst(e.indices[-1], {v: _TILE[v][0 if s > 0 else 1] for v, s in m.items()})
        last = _subst(e.indices[-1], {v: _TILE[v][1 if s > 0 else 0] for v, s in m.items()})
        dim = decl.dims[-1]
        inside = []
        if not _nonneg(first):
            inside.append(_op("ge", first, _const(0)))
            first = _op("max", first, _const(0))
        known = (last in _TILE["i"] and dim == ir.Var("N", INT, "size")) or \
                (last in _TILE["j"] and dim == ir.Var("M", INT, "size"))
        if not known:
            inside.append(_op("lt", last, dim))
            last = _op("min", last, _op("sub", dim, _const(1)))
        lo = ir.Load(e.input, e.indices[:-1] + (first,), e.type)
        hi = ir.Load(e.input, e.indices[:-1] + (last,), e.type)
        if inside:  # a read outside the table gives 0
            ok = _fold("and", inside)
            zero = _const(0) if e.type == INT else _const(0.0)
            lo, hi = _op("where", ok, lo, _op("min", lo, zero)), _op("where", ok, hi, _op("max", hi, zero))
        return lo, hi

    def _condition(self, e: ir.Expr):
        unknown = (ir.TRUE, ir.FALSE)
        if _fixed(e):
            return e, e
        if not isinstance(e, ir.Op):
            return unknown
        op, args = e.op, e.args
        if op in ("and", "or"):
            (a1, a2), (b1, b2) = self.cond(args[0]), self.cond(args[1])
            return _op(op, a1, b1), _op(op, a2, b2)
        if op == "not":
            may, must = self.cond(args[0])
            return _op("not", must), _op("not", may)
        if op == "where":
            c, a, b = args
            return self.cond(_op("or", _op("and", c, a), _op("and", _op("not", c), b)))
        if op in ("eq", "ne") and args[0].type == BOOL:
            (a1, a2), (b1, b2) = self.cond(args[0]), self.cond(args[1])
            may = _op("or", _op("and", a1, b1), _op("and", _op("not", a2), _op("not", b2)))
            must = _op("or", _op("and", a2, b2), _op("and", _op("not", a1), _op("not", b1)))
            return (may, must) if op == "eq" else (_op("not", must), _op("not", may))
        if op not in _NEGATE:
            return unknown
        ra, rb = self.num(args[0]), self.num(args[1])
        if ra is None or rb is None:
            return unknown
        if op in ("gt", "ge"):
            (ra, rb), op = (rb, ra), _SWAP[op]
        (alo, ahi), (blo, bhi) = ra, rb
        if op in ("lt", "le"):
            return _op(op, alo, bhi), _op(op, ahi, blo)
        may = _op("and", _op("le", alo, bhi), _op("le", blo, ahi))
        must = _op("eq", alo, blo)
        for lo, hi in ((alo, ahi), (blo, bhi)):
            if lo != hi:
                must = _op("and", must, _op("eq", lo, hi))
        return (may, must) if op == "eq" else (_op("not", must), _op("not", may))


# ---------------------------------------------------------------- closed-form ranges

def _dnf(e: ir.Expr, holds: bool = True) -> Optional[list]:
    """`e == holds` as a list of conjunctions (tuples of bool atoms); None if too many."""
    if isinstance(e, ir.Const) and e.type == BOOL:
        return [()] if e.value == holds else []
    if isinstance(e, ir.Op) and e.op == "not":
        return _dnf(e.args[0], not holds)
    if isinstance(e, ir.Op) and e.op == "where" and e.type == BOOL:
        c, a, b = e.args
        return _dnf(_op("or", _op("and", c, a), _op("and", _op("not", c), b)), holds)
    if isinstance(e, ir.Op) and e.op in ("and", "or"):
        left, right = _dnf(e.args[0], holds), _dnf(e.args[1], holds)
        if left is None or right is None:
            return None
        out = left + right if (e.op == "or") == holds else [x + y for x in left for y in right]
        return out if len(out) <= MAX_DISJUNCTS else None
    if not (isinstance(e, ir.Op) and e.op in _NEGATE and e.args[0].type == INT == e.args[1].type):
        return [((e if holds else _op("not", e)),)]
    op, (a, b) = (e.op if holds else _NEGATE[e.op]), e.args
    if isinstance(b, ir.Op) and b.op == "abs" and op != "eq":
        op, a, b = _SWAP[op], b, a
    if isinstance(a, ir.Op) and a.op == "abs" and op in ("lt", "le", "gt", "ge"):
        x = a.args[0]
        both = [(ir.Op(op, (x, b), BOOL),), (ir.Op(op, (_op("neg", x), b), BOOL),)]
        return [both[0] + both[1]] if op in ("lt", "le") else both
    return [(ir.Op(op, (a, b), BOOL),)]


def _chain(e: ir.Expr, var: str) -> bool:
    """Whether `e` is `var` under `+ a`, `- a`, `// d`, `* d` (a, d fixed): increasing, invertible."""
    while isinstance(e, ir.Op) and e.op in ("add", "sub", "floordiv", "mul") and e.type == INT:
        a, b = e.args
        if _fixed(b):
            e = a
        elif e.op in ("add", "mul") and _fixed(a):
            e = b
        else:
            return False
    return isinstance(e, ir.Var) and e.name == var


def _invert(iv: "_Intervals", t: ir.Expr, bound: ir.Expr, upper: bool) -> Optional[ir.Expr]:
    """The inclusive bound on the variable of the chain `t` from `t <= bound` (or `>=`)."""
    while isinstance(t, ir.Op):
        x, a = t.args if _fixed(t.args[1]) else t.args[::-1]
        if t.op == "add":
            bound = _op("sub", bound, a)
        elif t.op == "sub":
            bound = _op("add", bound, a)
        elif iv._sign(a) <= 0:
            return None
        elif t.op == "floordiv":
            bound = _op("sub", _op("mul", a, _op("add", bound, _const(1))), _const(1)) if upper \
                else _op("mul", a, bound)
        else:  # x * a <= bound  <=>  x <= bound // a;  x * a >= bound  <=>  x >= ceil(bound / a)
            bound = _op("floordiv", bound, a) if upper else _op("neg", _op("floordiv", _op("neg", bound), a))
        t = x
    return bound


def _terms(e: ir.Expr, var: str, k: int, coeffs: dict, rest: list) -> bool:
    """Add k * e to `coeffs` (by chain of `var`) and to `rest` (terms free of `var`)."""
    if var not in ir.free_vars(e):
        rest.append((k, e))
        return True
    if _chain(e, var):
        coeffs[e] = coeffs.get(e, 0) + k
        return True
    if not isinstance(e, ir.Op):
        return False
    if e.op in ("add", "sub"):
        return _terms(e.args[0], var, k, coeffs, rest) and \
            _terms(e.args[1], var, k if e.op == "add" else -k, coeffs, rest)
    if e.op == "neg":
        return _terms(e.args[0], var, -k, coeffs, rest)
    if e.op == "mul":
        for c, y in (e.args, e.args[::-1]):
            if isinstance(c, ir.Const) and c.type == INT:
                return _terms(y, var, k * c.value, coeffs, rest)
    return False


def _linear_sum(rest: list) -> ir.Expr:
    out = _const(0)
    for k, t in rest:
        out = _op("add", out, t) if k == 1 else _op("sub", out, t) if k == -1 else \
            _op("add", out, _op("mul", _const(k), t))
    return out


def _bounds(iv: _Intervals, atom: ir.Expr, var: str):
    """Yield ("lo" | "hi", bound) on `var` implied by the int comparison `atom` over the tile."""
    a, b = atom.args
    forms = {"lt": [(a, b, 1)], "le": [(a, b, 0)], "gt": [(b, a, 1)], "ge": [(b, a, 0)],
             "eq": [(a, b, 0), (b, a, 0)]}.get(atom.op, [])
    for big, small, plus in forms:  # big - small + plus <= 0
        coeffs, rest = {}, []
        if not (_terms(big, var, 1, coeffs, rest) and _terms(small, var, -1, coeffs, rest)):
            continue
        coeffs = {key: c for key, c in coeffs.items() if c}
        if len(coeffs) != 1:
            continue
        (t, c), = coeffs.items()
        r = iv.num(_op("add", _linear_sum(rest), _const(plus)))
        if r is None:
            continue
        g = r[0]  # c * t + g <= 0 for some query of the tile needs the smallest g
        if c > 0:
            bound = _invert(iv, t, _op("floordiv", _op("neg", g), _const(c)), True)
            if bound is not None:
                yield "hi", _op("add", bound, _const(1))
        else:
            bound = _invert(iv, t, g if c == -1 else _op("neg", _op("floordiv", _op("neg", g), _const(-c))), False)
            if bound is not None:
                yield "lo", bound


def _ranges(iv: _Intervals, mask: ir.Expr, var: str, limit: ir.Expr):
    """Ranges of `var` (one per disjunct of the mask) whose union holds every allowed `var`."""
    dnf = _dnf(mask)
    if dnf is None:
        return None
    out = []
    for conj in dnf:
        guard, lows, highs = ir.TRUE, [], []
        for atom in conj:
            if var not in ir.free_vars(atom):  # gates the disjunct: may it hold on this tile?
                guard = _op("and", guard, atom if _fixed(atom) else iv.cond(atom)[0])
            elif isinstance(atom, ir.Op) and atom.op in _NEGATE and atom.args[0].type == INT == atom.args[1].type:
                for side, bound in _bounds(iv, atom, var):
                    (lows if side == "lo" else highs).append(bound)
        if not lows and not highs and guard == ir.TRUE:
            return None
        lo = _op("max", _fold("max", lows), _const(0)) if lows else _const(0)
        hi = _op("min", _fold("min", highs), limit) if highs else limit
        hi = _op("where", guard, hi, _const(0))
        if (lo, hi) not in out:
            out.append((lo, hi))
    return tuple(out) if len(out) <= MAX_RANGES else None


def analyse_tiles(spec: ir.Spec) -> TileFacts:
    """Before: a checked softmax-family spec. After: sound tile facts (see the module docstring)."""
    iv = _Intervals(spec)
    may, must = iv.cond(spec.mask)
    keys = _ranges(iv, spec.mask, "j", ir.Var("M", INT, "size"))
    queries = _ranges(iv, spec.mask, "i", ir.Var("N", INT, "size"))
    if iv.divisors:  # valid only where every assumed-positive divisor is
        ok = _fold("and", [_op("gt", d, _const(0)) for d in iv.divisors])
        may, must = _op("or", _op("not", ok), may), _op("and", ok, must)
        keys, queries = _guarded(keys, ok, ir.Var("M", INT, "size")), _guarded(queries, ok, ir.Var("N", INT, "size"))
    return TileFacts(may, must, keys, queries)


def _guarded(ranges, ok: ir.Expr, limit: ir.Expr):
    """`ranges` where `ok` holds, else the one range [0, limit)."""
    if not ranges:
        return ranges
    return tuple((_op("where", ok, lo, _const(0)), _op("where", ok, hi, limit)) for lo, hi in ranges)
