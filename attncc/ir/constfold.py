"""Evaluate IR expressions on plain Python values.

`evaluate(expr, env)` is the language's meaning on scalars (floor `//` and `%`, true `/`, the
function table), used to fold param defaults, to test a mask's shape on a small grid, and by
tests as a scalar oracle. Loads read from `env[input_name]`, a callable or nested sequence.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

from . import nodes as ir


class ConstFoldError(Exception):
    pass


def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _softplus(x):
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


SCALAR_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "floordiv": lambda a, b: a // b, "mod": lambda a, b: a % b,
    "pow": lambda a, b: float(a) ** b, "neg": lambda a: -a,
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
    "and": lambda a, b: a and b, "or": lambda a, b: a or b, "not": lambda a: not a,
    "where": lambda c, a, b: a if c else b,
    "abs": abs, "min": min, "max": max, "clamp": lambda x, lo, hi: min(max(x, lo), hi),
    "exp": math.exp, "exp2": lambda x: 2.0 ** x, "log": math.log, "log2": math.log2, "log1p": math.log1p,
    "sqrt": math.sqrt, "rsqrt": lambda x: 1.0 / math.sqrt(x), "tanh": math.tanh, "sigmoid": _sigmoid,
    "softplus": _softplus, "relu": lambda x: max(x, 0), "elu": lambda x: x if x > 0 else math.expm1(x),
    "silu": lambda x: x * _sigmoid(x), "gelu": lambda x: 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0))),
    "sin": math.sin, "cos": math.cos, "erf": math.erf, "floor": math.floor, "ceil": math.ceil,
    "sign": lambda x: type(x)((x > 0) - (x < 0)),
}


def evaluate(expr: ir.Expr, env: Mapping[str, Any]) -> Any:
    """The value of `expr` with Vars and inputs taken from `env`."""
    if isinstance(expr, ir.Const):
        return expr.value
    if isinstance(expr, ir.Var):
        if expr.name not in env:
            raise ConstFoldError(f"'{expr.name}' has no value here")
        return env[expr.name]
    if isinstance(expr, ir.Load):
        table = env.get(expr.input)
        if table is None:
            raise ConstFoldError(f"the input '{expr.input}' has no value here")
        index = [evaluate(i, env) for i in expr.indices]
        if callable(table):
            return table(*index)
        value = table
        for k in index:
            value = value[k]
        return value
    if expr.op == "taylor2":
        raise ConstFoldError("taylor2 is a row map, not a scalar function")
    if expr.op in ("search_left", "search_right"):
        return _search(expr, env)
    args = [evaluate(a, env) for a in expr.args]
    try:
        value = SCALAR_FUNCTIONS[expr.op](*args)
    except (ZeroDivisionError, ValueError, OverflowError) as exc:
        shown = ", ".join(repr(a) for a in args)
        raise ConstFoldError(f"{expr.op}({shown}) fails: {exc}") from None
    if expr.type == ir.FLOAT and not isinstance(value, bool):
        return float(value)
    return value


def _search(expr: ir.Op, env: Mapping[str, Any]) -> int:
    """A search op (ir.SEARCH_OPS): binary search of the sorted row."""
    row, value, length = expr.args
    value, lo, hi = evaluate(value, env), 0, evaluate(length, env)
    right = expr.op == "search_right"
    while lo < hi:
        mid = (lo + hi) // 2
        x = evaluate(row, {**env, ir.SEARCH_INDEX.name: mid})
        if x < value or (right and x == value):
            lo = mid + 1
        else:
            hi = mid
    return lo


def evaluate_constant(expr: ir.Expr) -> Any:
    """The value of an expression of literals only; raises ConstFoldError otherwise."""
    return evaluate(expr, {})


def is_causal_mask(mask: ir.Expr, size: int = 9) -> bool:
    """Whether `mask` depends on i and j only and equals `j <= i` on a size x size grid."""
    if ir.free_vars(mask) - {"i", "j"} or ir.loads(mask):
        return False
    try:
        return all(
            bool(evaluate(mask, {"i": i, "j": j})) == (j <= i) for i in range(size) for j in range(size)
        )
    except ConstFoldError:
        return False


def is_always_true(mask: ir.Expr) -> bool:
    """Whether `mask` is a constant expression that evaluates to true (a dense mask)."""
    if ir.free_vars(mask) or ir.loads(mask):
        return False
    try:
        return evaluate_constant(mask) is True
    except ConstFoldError:
        return False
