"""IR <-> sympy, and cheap canonical simplification. sympy lives in this folder (symbolic/) only.

- `to_sympy(expr)`: the sympy form of an IR expression. Int symbols are integer Symbols
  (i j b h nonnegative, sizes positive), float ones real, bool ones plain Symbols used as
  propositions. Each distinct input read becomes one Symbol named like `rpb[h, j - i + radius]`
  (its indices canonicalised by sympy first), so it can be differentiated against. `//` and `%`
  are the functions `FloorDiv` / `PyMod` (Python floor semantics, kept opaque), `where` is
  `Piecewise` (or and/or for bool branches), and the language's activations are sympy Functions
  with their own `fdiff`, so derivatives stay compact (d sigmoid = sigmoid * (1 - sigmoid)).
- `from_sympy(e)`: back to IR using only `ir.OPS`, every Op typed by `typing_rules.result_type`.
- `simplify(expr)`: before, any typed IR expression; after, an equivalent one of the same type
  that is canonical (sympy's ordering, like terms combined) and constant-folded, never bigger
  than the constant-folded input, and the same for the same input. Expressions sympy cannot
  take (taylor2) or that would change type come back constant-folded only.
- `simplify_spec(spec)`: the spec with mask, score, sink, scale, decay, feature and input dims
  simplified.
- `linear_form(expr)`: an int expression as (coefficients by monomial, constant), for bounds.py.

Meaning is kept exactly up to float rounding, except where the original itself fails (division
by zero, log of a negative): `x / x` may become 1.
"""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction

import sympy as sp

from ..ir import constfold
from .. import ir
from ..ir import BOOL, FLOAT, INT
from ..ir.typing_rules import TypeRuleError, result_type
from .sympy_functions import (Elu, Exp2, FloorDiv, Gelu, Log1p, Log2, PyMod, Relu, Sigmoid, Silu, Softplus,
                              relation_as_logic)


class Unsupported(Exception):
    """An expression the symbolic passes cannot convert."""


# ---------------------------------------------------------------- IR -> sympy

# Symbol -> what it stands for: an ir.Var, or ("load", input, type, sympy indices). The
# mapping is a cache of pure facts (a Symbol's name and assumptions fix its meaning).
_SYMBOLS: dict = {}

_FUNCTIONS_TO = {
    "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "tanh": sp.tanh, "sin": sp.sin, "cos": sp.cos,
    "erf": sp.erf, "floor": sp.floor, "ceil": sp.ceiling, "sign": sp.sign, "abs": sp.Abs,
    "sigmoid": Sigmoid, "softplus": Softplus, "silu": Silu, "gelu": Gelu, "elu": Elu, "exp2": Exp2,
    "log2": Log2, "log1p": Log1p, "relu": Relu,
}
_FUNCTIONS_FROM = {v: k for k, v in _FUNCTIONS_TO.items() if k not in ("sqrt",)}
_OPS_TO = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b, "div": lambda a, b: a / b,
    "neg": lambda a: -a, "pow": lambda a, b: a ** b, "floordiv": FloorDiv, "mod": PyMod,
    "eq": sp.Eq, "ne": sp.Ne, "lt": sp.Lt, "le": sp.Le, "gt": sp.Gt, "ge": sp.Ge,
    "and": sp.And, "or": sp.Or, "not": sp.Not, "min": sp.Min, "max": sp.Max,
    "clamp": lambda x, lo, hi: sp.Min(sp.Max(x, lo), hi), "rsqrt": lambda x: 1 / sp.sqrt(x), **_FUNCTIONS_TO,
}
_REL_OPS = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}


def _assumptions(typ: str, kind: str) -> dict:
    if typ == INT:
        if kind == "index":
            return {"integer": True, "nonnegative": True}
        if kind == "size":
            return {"integer": True, "positive": True}
        return {"integer": True}
    if typ == FLOAT:
        return {"real": True}
    return {}


def var_symbol(var: ir.Var) -> sp.Symbol:
    """The Symbol of a Var (registered, so from_sympy gives the Var back)."""
    sym = sp.Symbol(var.name, **_assumptions(var.type, var.kind))
    _SYMBOLS.setdefault(sym, var)
    return sym


def load_symbol(name: str, typ: str, indices: tuple) -> sp.Symbol:
    """The Symbol of a read of input `name` at sympy `indices`."""
    sym = sp.Symbol(f"{name}[{', '.join(sp.sstr(x) for x in indices)}]", **_assumptions(typ, "load"))
    _SYMBOLS.setdefault(sym, ("load", name, typ, tuple(indices)))
    return sym


def to_sympy(expr: ir.Expr):
    """The sympy form of `expr` (see the module docstring); raises Unsupported for taylor2."""
    if isinstance(expr, ir.Const):
        v = expr.value
        if isinstance(v, bool):
            return sp.true if v else sp.false
        if isinstance(v, int):
            return sp.Integer(v)
        if math.isinf(v):
            return sp.oo if v > 0 else -sp.oo
        if math.isnan(v):
            raise Unsupported("nan")
        return sp.pi if v == math.pi else sp.Float(v)
    if isinstance(expr, ir.Var):
        return var_symbol(expr)
    if isinstance(expr, ir.Load):
        return load_symbol(expr.input, expr.type, tuple(to_sympy(x) for x in expr.indices))
    op, a = expr.op, [to_sympy(x) for x in expr.args]
    if op in ("eq", "ne") and expr.args[0].type == BOOL:
        return sp.Equivalent(*a) if op == "eq" else sp.Xor(*a)
    if op == "where":
        if expr.type == BOOL:
            return sp.Or(sp.And(a[0], a[1]), sp.And(sp.Not(a[0]), a[2]))
        return sp.Piecewise((a[1], a[0]), (a[2], True))
    if op in _OPS_TO:
        out = _OPS_TO[op](*a)
        return relation_as_logic(out) if op in ("eq", "ne", "lt", "le", "gt", "ge") else out
    raise Unsupported(f"op '{op}' has no sympy form")


# ---------------------------------------------------------------- sympy -> IR

def _op(name: str, *args: ir.Expr) -> ir.Expr:
    return ir.Op(name, tuple(args), result_type(name, tuple(x.type for x in args)))


def _const(e) -> ir.Expr:
    if e is sp.oo or e is -sp.oo:
        return ir.Const(math.inf if e is sp.oo else -math.inf, FLOAT)
    if isinstance(e, sp.Integer):
        return ir.Const(int(e), INT)
    if e is sp.pi:
        return ir.Const(math.pi, FLOAT)
    if e.is_real and e.is_finite:
        return ir.Const(float(e.evalf(20)), FLOAT)
    raise Unsupported(f"the constant {e} is not a real number")


def _fold(args: list, name: str) -> ir.Expr:
    out = args[0]
    for x in args[1:]:
        out = _op(name, out, x)
    return out


def _product(factors: list) -> ir.Expr:
    return _fold(factors, "mul") if factors else ir.Const(1, INT)


def _power(base, n: int) -> ir.Expr:
    """base ** n for an integer n >= 2: an int product for int bases (and x * x for atoms)."""
    b = from_sympy(base)
    if b.type == INT or (n == 2 and isinstance(b, (ir.Var, ir.Load))):
        return _fold([b] * n, "mul")
    return _op("pow", b, ir.Const(n, INT))


def _from_pow(e) -> ir.Expr:
    base, exp = e.args
    if base is sp.E:
        return _op("exp", from_sympy(exp))
    if exp == sp.Rational(1, 2):
        return _op("sqrt", from_sympy(base))
    if exp == sp.Rational(-1, 2):
        return _op("rsqrt", from_sympy(base))
    if isinstance(exp, sp.Integer) and exp >= 2:
        return _power(base, int(exp))
    if exp.could_extract_minus_sign():
        return _op("div", ir.Const(1, INT), from_sympy(sp.Pow(base, -exp)))
    return _op("pow", from_sympy(base), from_sympy(exp))


def _factors(x: ir.Expr) -> list:
    """The factors of a product (so that 3 * s * s prints without parentheses)."""
    if isinstance(x, ir.Op) and x.op == "mul":
        return _factors(x.args[0]) + _factors(x.args[1])
    return [x]


def _from_mul(e) -> ir.Expr:
    coeff, rest = e.as_coeff_Mul()
    if coeff < 0:
        return _op("neg", _from_mul_positive(-coeff, rest))
    return _from_mul_positive(coeff, rest)


def _from_mul_positive(coeff, rest) -> ir.Expr:
    num, den = [], []
    for f in sp.Mul.make_args(rest):
        base, exp = f.as_base_exp()
        if isinstance(f, sp.Pow) and base is not sp.E and exp.could_extract_minus_sign() \
                and exp != sp.Rational(-1, 2):
            den.extend(_factors(from_sympy(sp.Pow(base, -exp))))
        elif f is not sp.S.One:
            num.extend(_factors(from_sympy(f)))
    if isinstance(coeff, sp.Rational) and not isinstance(coeff, sp.Integer):
        if coeff.p != 1 or not num:
            num.insert(0, ir.Const(int(coeff.p), INT))
        den.insert(0, ir.Const(int(coeff.q), INT))
    elif coeff != 1 or (not num and not den):
        num.insert(0, _const(coeff))
    top = _product(num)
    return _op("div", top, _product(den)) if den else top


def _from_add(e) -> ir.Expr:
    terms = list(e.args)
    terms = [t for t in terms if not t.is_Number] + [t for t in terms if t.is_Number]
    signed = []
    for t in terms:
        coeff, rest = t.as_coeff_Mul()
        signed.append((coeff < 0, _from_mul_positive(-coeff, rest) if coeff < 0 else from_sympy(t)))
    first = next((k for k, (neg, _) in enumerate(signed) if not neg), None)
    if first is None:
        out = _op("neg", signed[0][1])
        rest = signed[1:]
    else:
        out = signed[first][1]
        rest = signed[:first] + signed[first + 1:]
    for neg, x in rest:
        out = _op("sub" if neg else "add", out, x)
    return out


def _from_piecewise(e) -> ir.Expr:
    pieces = list(e.args)
    if pieces[-1].cond is not sp.true:
        raise Unsupported("a Piecewise without a default")
    out = from_sympy(pieces[-1].expr)
    for expr, cond in reversed(pieces[:-1]):
        out = _op("where", from_sympy(cond), from_sympy(expr), out)
    return out


_REVERSED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _relation(e) -> ir.Expr:
    """A comparison in one canonical spelling: `<`/`<=` (or sorted sides for ==/!=) unless that
    would put a number on the left."""
    lhs, rhs, op = e.lhs, e.rhs, e.rel_op
    if op in ("==", "!="):
        swap = sp.default_sort_key(lhs) > sp.default_sort_key(rhs)
    else:
        swap = op in (">", ">=")
    if swap and not rhs.is_Number or lhs.is_Number and not rhs.is_Number:
        lhs, rhs, op = rhs, lhs, _REVERSED[op]
    return _op(_REL_OPS[op], from_sympy(lhs), from_sympy(rhs))


def _sorted_args(e) -> list:
    return [from_sympy(a) for a in sorted(e.args, key=sp.default_sort_key)]


def _clamp(e):
    """clamp(x, lo, hi) for Min(hi, Max(lo, x)) with numbers lo <= hi; else None."""
    if not isinstance(e, sp.Min) or len(e.args) != 2:
        return None
    hi, inner = sorted(e.args, key=lambda a: isinstance(a, sp.Max))
    if not (isinstance(inner, sp.Max) and len(inner.args) == 2 and hi.is_Number):
        return None
    lo, x = sorted(inner.args, key=lambda a: not a.is_Number)
    if not lo.is_Number or lo > hi:
        return None
    return _op("clamp", from_sympy(x), from_sympy(lo), from_sympy(hi))


def from_sympy(e) -> ir.Expr:
    """The IR of a sympy expression built by to_sympy (or derived from one)."""
    if e is sp.true or e is sp.false:
        return ir.Const(bool(e), BOOL)
    if isinstance(e, sp.Symbol):
        meaning = _SYMBOLS.get(e)
        if meaning is None:
            raise Unsupported(f"unknown symbol {e}")
        if isinstance(meaning, ir.Var):
            return meaning
        _, name, typ, indices = meaning
        return ir.Load(name, tuple(from_sympy(x) for x in indices), typ)
    if not e.free_symbols and not isinstance(e, sp.logic.boolalg.Boolean):
        return _const(e)
    if isinstance(e, sp.Add):
        return _from_add(e)
    if isinstance(e, sp.Mul):
        return _from_mul(e)
    if isinstance(e, sp.Pow):
        return _from_pow(e)
    if isinstance(e, sp.Piecewise):
        return _from_piecewise(e)
    if isinstance(e, sp.Heaviside):
        x = from_sympy(e.args[0])
        half = from_sympy(e.args[1]) if len(e.args) > 1 else ir.Const(0.5, FLOAT)
        zero = _op("where", _op("eq", x, ir.Const(0, INT)), half, ir.Const(0.0, FLOAT))
        return _op("where", _op("gt", x, ir.Const(0, INT)), ir.Const(1.0, FLOAT), zero)
    if isinstance(e, sp.core.relational.Relational):
        return _relation(e)
    if isinstance(e, (sp.And, sp.Or)):
        return _fold(_sorted_args(e), "and" if isinstance(e, sp.And) else "or")
    if isinstance(e, sp.Not):
        return _op("not", from_sympy(e.args[0]))
    if isinstance(e, (sp.Equivalent, sp.Xor)):
        args = _sorted_args(e)
        if isinstance(e, sp.Xor):
            return _fold(args, "ne")
        return _fold([_op("eq", args[0], x) for x in args[1:]], "and")
    if isinstance(e, (sp.Min, sp.Max)):
        return _clamp(e) or _fold(_sorted_args(e), "min" if isinstance(e, sp.Min) else "max")
    if isinstance(e, FloorDiv):
        return _op("floordiv", from_sympy(e.args[0]), from_sympy(e.args[1]))
    if isinstance(e, PyMod):
        return _op("mod", from_sympy(e.args[0]), from_sympy(e.args[1]))
    if e.func in _FUNCTIONS_FROM:
        return _op(_FUNCTIONS_FROM[e.func], from_sympy(e.args[0]))
    raise Unsupported(f"no IR for {type(e).__name__}: {e}")


# ---------------------------------------------------------------- simplification

def size(expr: ir.Expr) -> int:
    """The number of nodes of `expr`: what simplification must not increase."""
    return sum(1 for _ in ir.walk(expr))


def fold_constants(expr: ir.Expr) -> ir.Expr:
    """`expr` with every subtree of literals replaced by its value (no sympy)."""
    if isinstance(expr, ir.Load):
        return replace(expr, indices=tuple(fold_constants(x) for x in expr.indices))
    if not isinstance(expr, ir.Op):
        return expr
    args = tuple(fold_constants(x) for x in expr.args)
    node = replace(expr, args=args)
    if expr.op != "taylor2" and all(isinstance(x, ir.Const) for x in args):
        try:
            value = constfold.evaluate(node, {})
        except constfold.ConstFoldError:
            return node
        cast = {INT: int, FLOAT: float, BOOL: bool}[expr.type]
        if isinstance(value, (int, float, bool)) and not (isinstance(value, float) and math.isnan(value)):
            return ir.Const(cast(value), expr.type)
    return node


def _candidates(e) -> list:
    out = [e]
    if e.count_ops() <= 60:
        for rewrite in (sp.expand_mul, sp.factor_terms):
            try:
                other = rewrite(e)
            except Exception:  # a rewrite that fails only loses a candidate
                continue
            if other != e:
                out.append(other)
    return out


def simplify(expr: ir.Expr) -> ir.Expr:
    """A canonical, constant-folded equivalent of `expr` of the same type, never bigger."""
    base = fold_constants(expr)
    if expr.type == FLOAT and isinstance(expr, ir.Op) and expr.op == "taylor2":
        return replace(base, args=(simplify(expr.args[0]),))
    try:
        e = to_sympy(expr)
    except (Unsupported, TypeError, ValueError):
        return base
    return _smallest(e, expr.type, base)


def simplify_sympy(e, typ: str) -> ir.Expr:
    """The smallest IR of type `typ` among the rewrites of `e`, a sympy expression over
    to_sympy's symbols (exact constants such as log(2) stay exact until the IR folds them)."""
    return _smallest(e, typ, fold_constants(from_sympy(e)))


def _smallest(e, typ: str, base: ir.Expr) -> ir.Expr:
    best = base
    for cand in _candidates(e):
        try:
            out = from_sympy(cand)
        except (Unsupported, TypeRuleError, TypeError, ValueError, RecursionError):
            continue
        if isinstance(out, ir.Const) and out.type == INT and typ == FLOAT:
            out = ir.Const(float(out.value), FLOAT)
        if out.type == typ and (size(out) < size(best) or (best is base and size(out) == size(base))):
            best = out
    return best


def simplify_spec(spec: ir.Spec) -> ir.Spec:
    """The spec with every expression simplified (meaning unchanged; lets and tile as they are)."""
    opt = lambda e: None if e is None else simplify(e)  # noqa: E731
    inputs = tuple(replace(x, dims=tuple(simplify(d) for d in x.dims)) for x in spec.inputs)
    return replace(spec, inputs=inputs, mask=simplify(spec.mask), score=simplify(spec.score),
                   norm=replace(spec.norm, sink=opt(spec.norm.sink)), scale=simplify(spec.scale),
                   feature=opt(spec.feature), decay=opt(spec.decay))


# ---------------------------------------------------------------- affine forms (for bounds.py)

def linear_form(expr: ir.Expr) -> tuple[dict[str, Fraction], Fraction]:
    """An int expression as sum(coeff * monomial) + constant.

    Monomials are named by sympy's text of them (`i`, `radius*dilation`, `FloorDiv(i, width)`,
    `doc[b, j]`); anything that is not a polynomial of symbols is an opaque atom. Raises
    Unsupported when the expression has no sympy form.
    """
    e = sp.expand(to_sympy(expr))
    coeffs: dict[str, Fraction] = {}
    const = Fraction(0)
    for term, c in e.as_coefficients_dict().items():
        if not isinstance(c, sp.Rational):
            raise Unsupported(f"coefficient {c} is not rational")
        value = Fraction(int(c.p), int(c.q))
        if term is sp.S.One:
            const += value
        else:
            key = sp.sstr(term)
            coeffs[key] = coeffs.get(key, Fraction(0)) + value
    return {k: v for k, v in coeffs.items() if v != 0}, const
