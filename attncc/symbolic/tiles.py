"""Per-tile mask facts: empty / full tests and closed-form loop bounds, as IR.

A kernel tile is the queries `i` in `[i_lo, i_hi]` and the keys `j` in `[j_lo, j_hi]` (inclusive,
real rows and columns: `0 <= i_lo <= i_hi < N`, `0 <= j_lo <= j_hi < M`), with `b` and `h` fixed.
`analyse_tiles(spec)` answers, as ordinary IR over `I_LO .. J_HI`, `b`, `h`, sizes, params and
input loads (never `i`, `j` or `s`):

- `may_be_true`: false => the mask is false on the whole tile (skip it);
- `must_be_true`: true => the mask is true on the whole tile (no mask evaluation);
- `key_ranges`: half-open `[lo, hi)` ranges of `j` (in terms of `I_LO`, `I_HI`) whose union holds
  every key the mask may allow for some query of `[i_lo, i_hi]`; `None` = no closed form;
- `query_ranges`: the same from the key side (ranges of `i` in terms of `J_LO`, `J_HI`);
- `key_full` / `query_full`: per range, a sub-range `[lo, hi)` whose every key (query) the mask
  allows for every query (key) of the tile, or None: the kernels run the tiles wholly inside it
  without a mask (the same atoms bounded by the other end of their interval over the tile).

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

from dataclasses import dataclass
from typing import Optional

from .. import ir
from .intervals import I_HI, I_LO, J_HI, J_LO, NEGATE, SWAP, Intervals, _subst, fold_ops, is_fixed, make_const, make_op
from .tile_proofs import ranges_imply_may
from ..ir import BOOL, INT

__all__ = ["I_LO", "I_HI", "J_LO", "J_HI", "TileFacts", "analyse_tiles"]
MAX_RANGES = 4
MAX_DISJUNCTS = 16


@dataclass(frozen=True)
class TileFacts:
    may_be_true: ir.Expr
    must_be_true: ir.Expr
    key_ranges: Optional[tuple[tuple[ir.Expr, ir.Expr], ...]]
    query_ranges: Optional[tuple[tuple[ir.Expr, ir.Expr], ...]]
    # Per range: whether every tile its loop visits is proved to satisfy may_be_true
    # (tile_proofs.py), so that the kernels test nothing there.
    key_ranges_imply_may: tuple[bool, ...] = ()
    query_ranges_imply_may: tuple[bool, ...] = ()
    # Per range: the keys [lo, hi) (queries, for query_ranges) inside it that the mask allows for
    # every query (key) of the tile, or None; a tile wholly inside is full, no mask needed.
    key_full: tuple[Optional[tuple[ir.Expr, ir.Expr]], ...] = ()
    query_full: tuple[Optional[tuple[ir.Expr, ir.Expr]], ...] = ()


# ---------------------------------------------------------------- closed-form ranges

def _dnf(e: ir.Expr, holds: bool = True) -> Optional[list]:
    """`e == holds` as a list of conjunctions (tuples of bool atoms); None if too many."""
    if isinstance(e, ir.Const) and e.type == BOOL:
        return [()] if e.value == holds else []
    if isinstance(e, ir.Op) and e.op == "not":
        return _dnf(e.args[0], not holds)
    if isinstance(e, ir.Op) and e.op == "where" and e.type == BOOL:
        c, a, b = e.args
        return _dnf(make_op("or", make_op("and", c, a), make_op("and", make_op("not", c), b)), holds)
    if isinstance(e, ir.Op) and e.op in ("and", "or"):
        left, right = _dnf(e.args[0], holds), _dnf(e.args[1], holds)
        if left is None or right is None:
            return None
        out = left + right if (e.op == "or") == holds else [x + y for x in left for y in right]
        return out if len(out) <= MAX_DISJUNCTS else None
    if not (isinstance(e, ir.Op) and e.op in NEGATE and e.args[0].type == INT == e.args[1].type):
        return [((e if holds else make_op("not", e)),)]
    op, (a, b) = (e.op if holds else NEGATE[e.op]), e.args
    if isinstance(b, ir.Op) and b.op == "abs" and op != "eq":
        op, a, b = SWAP[op], b, a
    if isinstance(a, ir.Op) and a.op == "abs" and op in ("lt", "le", "gt", "ge"):
        x = a.args[0]
        both = [(ir.Op(op, (x, b), BOOL),), (ir.Op(op, (make_op("neg", x), b), BOOL),)]
        return [both[0] + both[1]] if op in ("lt", "le") else both
    return [(ir.Op(op, (a, b), BOOL),)]


def _chain(e: ir.Expr, var: str) -> bool:
    """Whether `e` is `var` under `+ a`, `- a`, `// d`, `* d` (a, d fixed): increasing, invertible."""
    while isinstance(e, ir.Op) and e.op in ("add", "sub", "floordiv", "mul") and e.type == INT:
        a, b = e.args
        if is_fixed(b):
            e = a
        elif e.op in ("add", "mul") and is_fixed(a):
            e = b
        else:
            return False
    return isinstance(e, ir.Var) and e.name == var


def _invert(iv: "Intervals", t: ir.Expr, bound: ir.Expr, upper: bool) -> Optional[ir.Expr]:
    """The inclusive bound on the variable of the chain `t` from `t <= bound` (or `>=`)."""
    while isinstance(t, ir.Op):
        x, a = t.args if is_fixed(t.args[1]) else t.args[::-1]
        if t.op == "add":
            bound = make_op("sub", bound, a)
        elif t.op == "sub":
            bound = make_op("add", bound, a)
        elif iv.sign(a) <= 0:
            return None
        elif t.op == "floordiv":
            bound = make_op("sub", make_op("mul", a, make_op("add", bound, make_const(1))), make_const(1)) if upper \
                else make_op("mul", a, bound)
        else:  # x * a <= bound  <=>  x <= bound // a;  x * a >= bound  <=>  x >= ceil(bound / a)
            bound = make_op("floordiv", bound, a) if upper else make_op("neg", make_op("floordiv", make_op("neg", bound), a))
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
    out = make_const(0)
    for k, t in rest:
        out = make_op("add", out, t) if k == 1 else make_op("sub", out, t) if k == -1 else \
            make_op("add", out, make_op("mul", make_const(k), t))
    return out


def _bounds(iv: Intervals, atom: ir.Expr, var: str, every: bool = False):
    """The ("lo" | "hi", bound) pairs on `var` that the int comparison `atom` implies over the
    tile: for some query of the tile (`every` False: a key outside them is allowed for none), or
    for every query (`every` True: a key inside them is allowed for all). With `every`, None when
    a form of the atom gives no bound (the atom then bounds nothing for all queries)."""
    a, b = atom.args
    forms = {"lt": [(a, b, 1)], "le": [(a, b, 0)], "gt": [(b, a, 1)], "ge": [(b, a, 0)],
             "eq": [(a, b, 0), (b, a, 0)]}.get(atom.op, [])
    out = []
    for big, small, plus in forms:  # big - small + plus <= 0
        bound = _form_bound(iv, big, small, plus, var, every)
        if bound is None and every:
            return None
        if bound is not None:
            out.append(bound)
    return out if out or not every else None


def _sorted_row(iv: Intervals, e: ir.Expr, var: str) -> Optional[ir.Load]:
    """`e` as a read of an int `sorted` input at last index `var` (other indices fixed), or None."""
    if not (isinstance(e, ir.Load) and e.type == INT and e.indices and e.indices[-1] == ir.Var(var, INT, "index")):
        return None
    decl = iv.inputs.get(e.input)
    if decl is None or not decl.sorted or not all(is_fixed(x) for x in e.indices[:-1]):
        return None
    return e


def _sorted_bound(iv: Intervals, big: ir.Expr, small: ir.Expr, plus: int, var: str, every: bool):
    """The bound on `var` from `big - small + plus <= 0` where one side reads a sorted row at
    `var` and the other is free of it: row[var] <= g (a prefix of the row) or row[var] >= g (a
    suffix), found by a binary search. Positions past the row read 0, which breaks its order, so
    an upper bound holds only where the row covers the axis."""
    for read, other, upper in ((big, small, True), (small, big, False)):
        row = _sorted_row(iv, read, var)
        if row is None or var in ir.free_vars(other):
            continue
        r = iv.num(make_op("sub", other, make_const(plus)) if upper else make_op("add", other, make_const(plus)))
        if r is None:
            return None
        decl = iv.inputs[row.input]
        length, limit = decl.dims[-1], ir.Var("M" if var == "j" else "N", INT, "size")
        searched = ir.Load(row.input, row.indices[:-1] + (ir.SEARCH_INDEX,), INT)
        covers = make_op("ge", length, limit)
        if upper:  # row[var] <= g: var < search_right(row, g), g at its largest (smallest: every)
            g = r[0] if every else r[1]
            found = ir.Op("search_right", (searched, g, length), INT)
            return "hi", make_op("where", covers, found, make_const(0) if every else limit)
        g = r[1] if every else r[0]  # row[var] >= g: var >= search_left(row, g)
        found = ir.Op("search_left", (searched, g, length), INT)
        return "lo", make_op("where", covers, found, limit) if every else found
    return None


def _over_axis(iv: Intervals, g: ir.Expr, var: str, limit: ir.Expr):
    """The interval of `g` over the whole axis of `var` (0 .. limit - 1), not one tile's, or None."""
    r = iv.num(g)
    if r is None:
        return None
    lo, hi = ("i_lo", "i_hi") if var == "i" else ("j_lo", "j_hi")
    whole = {lo: make_const(0), hi: make_op("sub", limit, make_const(1))}
    return _subst(r[0], whole), _subst(r[1], whole)


def _inverted(iv: Intervals, g: ir.Expr, t: ir.Expr, var: str, limit: ir.Expr, upper: bool) -> Optional[ir.Expr]:
    """From `g(var) >= t`: a bound L with g(var) < t for every var < L; with `upper`, from
    `g(var) <= t`: a bound H (exclusive) with g(var) > t for every var >= H; or None. `g` is
    built from chains of var, fixed terms, + / - of fixed terms, min and max; a part not
    monotone in var bounds only by whether its range over the whole axis meets t: dropped
    where both parts must hold (sound), fatal where either may."""
    everything, nothing = (limit, make_const(0)) if upper else (make_const(0), limit)

    def meets(r):
        return make_op("where", make_op("le", r[0], t) if upper else make_op("ge", r[1], t), everything, nothing)

    if var not in ir.free_vars(g):
        r = iv.num(g)
        return None if r is None else meets(r)
    if _chain(g, var):
        bound = _invert(iv, g, t, upper)
        return bound if bound is None or not upper else make_op("add", bound, make_const(1))
    if isinstance(g, ir.Op) and g.op in ("add", "sub") and g.type == INT:
        a, b = g.args
        if is_fixed(b):
            return _inverted(iv, a, make_op("sub" if g.op == "add" else "add", t, b), var, limit, upper)
        if g.op == "add" and is_fixed(a):
            return _inverted(iv, b, make_op("sub", t, a), var, limit, upper)
        return None
    if isinstance(g, ir.Op) and g.op in ("min", "max") and g.type == INT:
        parts = [_inverted(iv, x, t, var, limit, upper) for x in g.args]
        if g.op == ("min" if upper else "max"):  # either part may meet t: the wider bound
            return None if None in parts else make_op("max" if upper else "min", *parts)
        known = [x for x in parts if x is not None]  # both parts must: the narrower one
        return fold_ops("min" if upper else "max", known) if known else None
    r = _over_axis(iv, g, var, limit)
    return None if r is None else meets(r)


def _clamped_bound(iv: Intervals, big: ir.Expr, small: ir.Expr, plus: int, var: str):
    """The bound on `var` from `big - small + plus <= 0` where one side holds `var` under min /
    max (a clamped window start, as in natten): small >= big + plus bounds it below, big <=
    small - plus above, each side's other end taken at its extreme over the tile."""
    limit = ir.Var("M" if var == "j" else "N", INT, "size")
    clamped = any(isinstance(x, ir.Op) and x.op in ("min", "max") and var in ir.free_vars(x)
                  for side in (big, small) for x in ir.walk(side))
    if not clamped:
        return None
    if var in ir.free_vars(small) and var not in ir.free_vars(big):
        r = iv.num(make_op("add", big, make_const(plus)))
        bound = None if r is None else _inverted(iv, small, r[0], var, limit, False)
        return None if bound is None else ("lo", bound)
    if var in ir.free_vars(big) and var not in ir.free_vars(small):
        r = iv.num(make_op("sub", small, make_const(plus)))
        bound = None if r is None else _inverted(iv, big, r[1], var, limit, True)
        return None if bound is None else ("hi", bound)
    return None


def _form_bound(iv: Intervals, big: ir.Expr, small: ir.Expr, plus: int, var: str, every: bool):
    if _sorted_row(iv, big, var) is not None or _sorted_row(iv, small, var) is not None:
        return _sorted_bound(iv, big, small, plus, var, every)
    coeffs, rest = {}, []
    if not (_terms(big, var, 1, coeffs, rest) and _terms(small, var, -1, coeffs, rest)):
        return None if every else _clamped_bound(iv, big, small, plus, var)
    coeffs = {key: c for key, c in coeffs.items() if c}
    if len(coeffs) != 1:
        return None
    (t, c), = coeffs.items()
    r = iv.num(make_op("add", _linear_sum(rest), make_const(plus)))
    if r is None:
        return None
    # c * t + g <= 0 for some query of the tile needs the smallest g; for every query, the largest.
    g = r[1] if every else r[0]
    if c > 0:
        bound = _invert(iv, t, make_op("floordiv", make_op("neg", g), make_const(c)), True)
        return None if bound is None else ("hi", make_op("add", bound, make_const(1)))
    bound = _invert(iv, t, g if c == -1 else make_op("neg", make_op("floordiv", make_op("neg", g), make_const(-c))), False)
    return None if bound is None else ("lo", bound)


def _range_of(lows, highs, guard, limit):
    lo = make_op("max", fold_ops("max", lows), make_const(0)) if lows else make_const(0)
    hi = make_op("min", fold_ops("min", highs), limit) if highs else limit
    return lo, make_op("where", guard, hi, make_const(0))


def _full_range(iv: Intervals, conj: tuple, var: str, limit: ir.Expr):
    """The range of `var` whose every value satisfies the conjunction `conj` for every query
    (key) of the tile, or None when an atom bounds nothing for all of them."""
    guard, lows, highs = ir.TRUE, [], []
    for atom in conj:
        if var not in ir.free_vars(atom):
            guard = make_op("and", guard, atom if is_fixed(atom) else iv.cond(atom)[1])
            continue
        if not (isinstance(atom, ir.Op) and atom.op in NEGATE and atom.args[0].type == INT == atom.args[1].type):
            return None
        bounds = _bounds(iv, atom, var, every=True)
        if bounds is None:
            return None
        for side, bound in bounds:
            (lows if side == "lo" else highs).append(bound)
    return _range_of(lows, highs, guard, limit)


def _ranges(iv: Intervals, mask: ir.Expr, var: str, limit: ir.Expr):
    """Ranges of `var` (one per disjunct of the mask) whose union holds every allowed `var`, and
    per range the part of it that every query (key) of the tile allows (None: none proved)."""
    dnf = _dnf(mask)
    if dnf is None:
        return None, None
    out, full = [], []
    for conj in dnf:
        guard, lows, highs = ir.TRUE, [], []
        for atom in conj:
            if var not in ir.free_vars(atom):  # gates the disjunct: may it hold on this tile?
                guard = make_op("and", guard, atom if is_fixed(atom) else iv.cond(atom)[0])
            elif isinstance(atom, ir.Op) and atom.op in NEGATE and atom.args[0].type == INT == atom.args[1].type:
                for side, bound in _bounds(iv, atom, var):
                    (lows if side == "lo" else highs).append(bound)
        if not lows and not highs and guard == ir.TRUE:
            return None, None
        allowed = _range_of(lows, highs, guard, limit)
        if allowed not in out:
            out.append(allowed)
            full.append(_full_range(iv, conj, var, limit))
    if len(out) > MAX_RANGES:
        return None, None
    return tuple(out), tuple(full)


def analyse_tiles(spec: ir.Spec) -> TileFacts:
    """Before: an elaborated softmax-family spec. After: sound tile facts (see the module docstring)."""
    iv = Intervals(spec)
    may, must = iv.cond(spec.mask)
    keys, keys_full = _ranges(iv, spec.mask, "j", ir.Var("M", INT, "size"))
    queries, queries_full = _ranges(iv, spec.mask, "i", ir.Var("N", INT, "size"))
    if iv.divisors:  # valid only where every assumed-positive divisor is
        ok = fold_ops("and", [make_op("gt", d, make_const(0)) for d in iv.divisors])
        may, must = make_op("or", make_op("not", ok), may), make_op("and", ok, must)
        keys, queries = _guarded(keys, ok, ir.Var("M", INT, "size")), _guarded(queries, ok, ir.Var("N", INT, "size"))
        keys_full, queries_full = _full_guarded(keys_full, ok), _full_guarded(queries_full, ok)
    return TileFacts(may, must, keys, queries, ranges_imply_may(may, keys, "j"), ranges_imply_may(may, queries, "i"),
                     keys_full or (), queries_full or ())


def _full_guarded(full, ok: ir.Expr):
    """Full ranges that hold only where `ok` does: empty elsewhere."""
    if not full:
        return full
    return tuple(None if r is None else (r[0], make_op("where", ok, r[1], make_const(0))) for r in full)


def _guarded(ranges, ok: ir.Expr, limit: ir.Expr):
    """`ranges` where `ok` holds, else the one range [0, limit)."""
    if not ranges:
        return ranges
    return tuple((make_op("where", ok, lo, make_const(0)), make_op("where", ok, hi, limit)) for lo, hi in ranges)
