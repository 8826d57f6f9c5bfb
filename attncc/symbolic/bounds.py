"""Prove input reads in bounds: `prove_reads(spec) -> list[Diagnostic]` (warnings).

Before: an elaborated Spec, straight from `language.elaborate` (not simplified: the positions of its Loads name
the places to warn about). After: one warning per index of a read that cannot be proved to stay
in `[0, dim)` wherever it matters, sorted by position. Nothing is changed: the generated code
guards every read anyway (a read outside gives 0, or false for bool inputs); the warning says
that such a read may happen.

What each read may assume:
- everywhere: `0 <= i < N`, `0 <= j < M`, `0 <= b < B`, `0 <= h < H`, every size >= 1;
- a read in the score: every top-level conjunct of the mask (the score matters only where the
  mask holds);
- a read in the mask: the mask's top-level conjuncts that do not contain that read (where the
  mask holds, every conjunct holds; the read's own conjunct may be true only because of the
  guarded value, so it is not used);
- a read in a `where` branch: the condition (or its negation) as well;
- reads in the sink (evaluated for every row, fully masked ones included) and in the decay:
  the ranges only.

Facts are normalised to `affine(atoms) >= 0`, where atoms are the monomials of the symbols and
any non-polynomial subterm (`i // width`, `abs(...)`, a read) kept opaque (`a < b` on ints is
`b - a - 1 >= 0`; `abs(e) <= r` gives `r - e >= 0` and `r + e >= 0`; `==` gives both
directions). A goal `g >= 0` is proved when `g - sum(lam_k * fact_k)` is a nonnegative constant
for some lam_k >= 0, found by a depth-first search that cancels one atom of the goal at a time
with one fact (at most 4 facts per proof).
"""

from __future__ import annotations

import functools
import itertools
from fractions import Fraction
from typing import Iterator, Optional

import numpy as np

from .. import ir
from ..language.errors import Diagnostic
from ..language.formatting import format_expr
from .simplify import Unsupported, linear_form

Form = tuple[tuple[tuple[str, Fraction], ...], Fraction]  # (sorted (atom, coeff) pairs, constant)
RANGES = (("i", "N"), ("j", "M"), ("b", "B"), ("h", "H"))
MAX_DEPTH = 4


# ---------------------------------------------------------------- affine forms

def _make(coeffs: dict, const: Fraction) -> Form:
    return tuple(sorted((k, v) for k, v in coeffs.items() if v != 0)), const


@functools.lru_cache(maxsize=4096)
def _linear(expr: ir.Expr) -> Optional[Form]:
    if expr.type != ir.INT:
        return None
    try:
        coeffs, const = linear_form(expr)
    except (Unsupported, TypeError, ValueError):
        return None
    return _make(coeffs, const)


def _combine(a: Form, b: Form, k: Fraction = Fraction(1), shift: int = 0) -> Form:
    """a + k * b + shift."""
    coeffs = dict(a[0])
    for atom, c in b[0]:
        coeffs[atom] = coeffs.get(atom, Fraction(0)) + k * c
    return _make(coeffs, a[1] + k * b[1] + shift)


def _ge(big: ir.Expr, small: ir.Expr, strict: bool) -> list[Form]:
    """Forms for `big >= small` (or `>` when strict), splitting abs/max on the small side and
    abs/min on the big side."""
    if isinstance(small, ir.Op) and small.op in ("abs", "max"):
        parts = small.args if small.op == "max" else (small.args[0], ir.Op("neg", small.args, small.type))
        out = [f for part in parts for f in _ge(big, part, strict)]
    elif isinstance(big, ir.Op) and big.op == "min":
        out = [f for part in big.args for f in _ge(part, small, strict)]
    else:
        out = []
    lb, ls = _linear(big), _linear(small)
    if lb is not None and ls is not None:
        out.append(_combine(lb, ls, Fraction(-1), -1 if strict else 0))
    return out


_FLIP = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}
_NEGATE = {"lt": "ge", "le": "gt", "gt": "le", "ge": "lt", "eq": "ne", "ne": "eq"}


def facts_of(cond: ir.Expr, holds: bool = True) -> list[Form]:
    """Affine facts implied by `cond` being `holds` (a sound, incomplete reading)."""
    if not isinstance(cond, ir.Op):
        return []
    op, args = cond.op, cond.args
    if op == "not":
        return facts_of(args[0], not holds)
    if (op == "and" and holds) or (op == "or" and not holds):
        return facts_of(args[0], holds) + facts_of(args[1], holds)
    if op not in _NEGATE or args[0].type == ir.BOOL:
        return []
    if not holds:
        op = _NEGATE[op]
    a, b = args
    if op == "eq":
        return _ge(a, b, False) + _ge(b, a, False)
    if op in ("lt", "le"):
        a, b, op = b, a, _FLIP[op]
    if op in ("gt", "ge"):
        return _ge(a, b, op == "gt")
    return []


def range_facts() -> list[Form]:
    """0 <= i < N, 0 <= j < M, 0 <= b < B, 0 <= h < H, and every size >= 1."""
    out = []
    for sym, size in RANGES:
        out.append(((( sym, Fraction(1)),), Fraction(0)))
        out.append(_make({size: Fraction(1), sym: Fraction(-1)}, Fraction(-1)))
    out += [(((size, Fraction(1)),), Fraction(-1)) for size in ir.SIZE_SYMBOLS]
    return out


# ---------------------------------------------------------------- the prover

def prove(goal: Form, facts: list[Form]) -> bool:
    """Whether goal >= 0 follows from facts (each >= 0) by a nonnegative combination."""
    return _cancel(goal, facts, MAX_DEPTH) or _enumerate(goal, facts)


def _enumerate(goal: Form, facts: list[Form]) -> bool:
    """Search goal - sum(lam_k * fact_k) >= 0 (a constant) over up to 3 facts, lam_k in {1/2, 1, 3/2, 2}."""
    atoms = {a for a, _ in goal[0]}
    relevant: list[Form] = []
    grown = True
    while grown:
        grown = False
        for fact in facts:
            if fact not in relevant and any(a in atoms for a, _ in fact[0]):
                relevant.append(fact)
                atoms |= {a for a, _ in fact[0]}
                grown = True
    if not relevant:
        return False
    names = sorted(atoms)
    column = {a: n for n, a in enumerate(names)}
    rows = np.zeros((len(relevant), len(names) + 1))
    for r, (coeffs, const) in enumerate(relevant):
        for a, c in coeffs:
            rows[r, column[a]] = float(c)
        rows[r, -1] = float(const)
    target = np.zeros(len(names) + 1)
    for a, c in goal[0]:
        target[column[a]] = float(c)
    target[-1] = float(goal[1])
    for k in range(1, min(3, len(relevant)) + 1):
        combos = np.array(list(itertools.combinations(range(len(relevant)), k)))  # C x k
        lams = np.array(list(itertools.product((0.5, 1.0, 1.5, 2.0), repeat=k)))  # P x k
        # residual[c, p] = target - sum_k lams[p, k] * rows[combos[c, k]]
        picked = rows[combos]  # C x k x (m+1)
        residual = target - np.einsum("pk,ckm->cpm", lams, picked)
        ok = np.all(np.abs(residual[..., :-1]) < 1e-9, axis=-1) & (residual[..., -1] > -1 + 1e-9)
        if ok.any():
            return True
    return False


def _cancel(goal: Form, facts: list[Form], depth: int) -> bool:
    """Depth-first: cancel the goal's first atom exactly with one fact, then recurse."""
    coeffs, const = goal
    if not coeffs:
        return const > -1  # every form is an int quantity: > -1 means >= 0
    if depth == 0:
        return False
    atom, c = coeffs[0]
    for k, fact in enumerate(facts):
        fc = dict(fact[0]).get(atom)
        if fc is None or (fc > 0) != (c > 0):
            continue
        rest = facts[:k] + facts[k + 1:]
        if _cancel(_combine(goal, fact, -(c / fc)), rest, depth - 1):
            return True
    return False


# ---------------------------------------------------------------- what a read may assume

Leaf = tuple[ir.Expr, bool]  # a condition that is not and/or/not, and whether it holds
MAX_CASES = 32


def cases(cond: ir.Expr, holds: bool = True) -> list[list[Leaf]]:
    """`cond == holds` as a disjunction of conjunctions of leaves (at most MAX_CASES)."""
    if isinstance(cond, ir.Op) and cond.op == "not":
        return cases(cond.args[0], not holds)
    if isinstance(cond, ir.Op) and cond.op in ("and", "or"):
        left, right = cases(cond.args[0], holds), cases(cond.args[1], holds)
        if (cond.op == "and") == holds:  # a conjunction
            out = [a + b for a in left for b in right]
        else:
            out = left + right
        if len(out) <= MAX_CASES:
            return out
    return [[(cond, holds)]]


class _Facts:
    """The facts of one spec: ranges, input dims >= 0, and what conditions and divisions imply."""

    def __init__(self, spec: ir.Spec):
        self.spec = spec
        self.base = range_facts()
        for decl in spec.inputs:
            for dim in decl.dims:
                form = _linear(dim)
                if form is not None:
                    self.base.append(form)  # a tensor's dims are >= 0 whenever the kernel runs

    def positive(self, divisor: ir.Expr) -> bool:
        """Whether a divisor is provably >= 1: >= 0 from the base facts, and not 0, since a
        division by zero has no meaning (so the generated code may assume it does not happen)."""
        form = _linear(divisor)
        return form is not None and prove(form, self.base)

    def division_facts(self, expr: ir.Expr) -> list[Form]:
        """For `a % c` in expr: 0 <= a % c < c; for `a // c`: c * (a // c) <= a < c * (a // c) + c
        (c provably >= 1)."""
        out = []
        for node in ir.walk(expr):
            if isinstance(node, ir.Op) and node.op in ("mod", "floordiv") and self.positive(node.args[1]):
                a, c = node.args
                if node.op == "mod":
                    out += _ge(node, ir.Const(0, ir.INT), False) + _ge(c, node, True)
                else:
                    scaled = ir.Op("mul", (c, node), ir.INT)
                    out += _ge(a, scaled, False) + _ge(ir.Op("add", (scaled, c), ir.INT), a, True)
        return out

    def leaf_facts(self, leaf: Leaf) -> list[Form]:
        cond, holds = leaf
        if isinstance(cond, ir.Load):  # a guarded bool read that is true was in bounds
            return self.in_bounds(cond) if holds else []
        out = facts_of(cond, holds)
        if holds and isinstance(cond, ir.Op) and cond.op in ("eq", "le", "lt", "ge", "gt"):
            out += self.same_divisor(cond)
        return out

    def same_divisor(self, cond: ir.Op) -> list[Form]:
        """`a // c OP b // c` (c >= 1) bounds a - b: == gives |a - b| <= c - 1, <= gives
        a - b <= c - 1, < gives b - a >= 1."""
        x, y = cond.args
        op = cond.op
        if op in ("ge", "gt"):
            x, y, op = y, x, _FLIP[op]
        if not (isinstance(x, ir.Op) and isinstance(y, ir.Op) and x.op == y.op == "floordiv"
                and x.args[1] == y.args[1] and self.positive(x.args[1])):
            return []
        a, b, c = x.args[0], y.args[0], x.args[1]
        la, lb, lc = _linear(a), _linear(b), _linear(c)
        if None in (la, lb, lc):
            return []
        diff = _combine(la, lb, Fraction(-1))  # a - b
        if op == "lt":
            return [_combine(((), Fraction(0)), diff, Fraction(-1), -1)]
        out = [_combine(lc, diff, Fraction(-1), -1)]  # c - 1 - (a - b) >= 0
        if op == "eq":
            out.append(_combine(lc, diff, Fraction(1), -1))
        return out

    def in_bounds(self, load: ir.Load) -> list[Form]:
        decl = self.spec.input(load.input)
        out = []
        for index, dim in zip(load.indices, decl.dims if decl else ()):
            li, ld = _linear(index), _linear(dim)
            if li is not None and ld is not None:
                out += [li, _combine(ld, li, Fraction(-1), -1)]
        return out

    def where_mask_holds(self, load: Optional[ir.Load]) -> list[list[Form]]:
        """One fact list per case of the mask; leaves reading `load` are left out (their truth
        may rest on the guarded value), except the read itself as a bool leaf."""
        out = []
        for case in cases(self.spec.mask):
            facts: list[Form] = []
            for leaf in case:
                if load is not None and load in ir.loads(leaf[0]) and leaf[0] != load:
                    continue
                facts += self.leaf_facts(leaf)
            out.append(facts)
        return out


def _reads(expr: ir.Expr, extra: list[Form], facts: _Facts) -> Iterator[tuple[ir.Load, list[Form]]]:
    """Every read in `expr` (nested ones too) with the facts that its place adds (where)."""
    if isinstance(expr, ir.Load):
        yield expr, extra
        for index in expr.indices:
            yield from _reads(index, extra, facts)
    elif isinstance(expr, ir.Op):
        if expr.op == "where":
            cond, yes, no = expr.args
            yield from _reads(cond, extra, facts)
            yield from _reads(yes, extra + facts_of(cond, True), facts)
            yield from _reads(no, extra + facts_of(cond, False), facts)
        else:
            for arg in expr.args:
                yield from _reads(arg, extra, facts)


def prove_reads(spec: ir.Spec) -> list[Diagnostic]:
    """Warnings for the input reads of `spec` not provably in bounds (see the module docstring)."""
    facts = _Facts(spec)
    places = [(spec.mask, True, "where the mask holds")]
    if not spec.is_linear:
        places.append((spec.score, True, "where the mask holds"))
    if spec.norm.sink is not None:
        places.append((spec.norm.sink, False, "for every row (the sink counts in fully masked rows too)"))
    if spec.decay is not None:
        places.append((spec.decay, False, "for every head"))
    found: dict[tuple, Diagnostic] = {}
    for expr, masked, where in places:
        for load, extra in _reads(expr, [], facts):
            decl = spec.input(load.input)
            line, col = load.pos or (1, 1)
            if decl is None:
                continue
            case_facts = facts.where_mask_holds(load) if masked else [[]]
            for k, (index, dim) in enumerate(zip(load.indices, decl.dims), start=1):
                if (line, col, k) in found:
                    continue
                local = facts.base + extra + facts.division_facts(index)
                message = _prove_index(load, k, index, dim, [local + c for c in case_facts], where)
                if message is not None:
                    found[(line, col, k)] = Diagnostic(line, col, message[0], message[1], severity="warning")
    return [found[key] for key in sorted(found)]


def _prove_index(load: ir.Load, k: int, index: ir.Expr, dim: ir.Expr, case_facts: list[list[Form]],
                 where: str) -> Optional[tuple[str, str]]:
    li, ld = _linear(index), _linear(dim)
    low = li is not None and all(prove(li, facts) for facts in case_facts)
    high = li is not None and ld is not None and \
        all(prove(_combine(ld, li, Fraction(-1), -1), facts) for facts in case_facts)
    if low and high:
        return None
    idx, size = format_expr(index), format_expr(dim)
    message = f"cannot prove that index {k} of '{load.input}' ({idx}) stays in [0, {size}) {where}"
    if not low and not high:
        need = f"0 <= {idx} < {size}"
    elif not low:
        need = f"{idx} >= 0"
    else:
        need = f"{idx} < {size}"
    hint = (f"a read outside the input gives 0 (false for bool inputs); if that is not meant, make sure "
            f"{need} (e.g. with a condition in the mask)")
    return message, hint
