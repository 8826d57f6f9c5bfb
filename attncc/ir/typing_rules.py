"""The type rules of the expression language: `result_type(op, arg_types)`.

DSL.md's rules: ints promote to float where a float is needed; nothing else converts. `/` and
`**` (and `pow`) always give float; `//` and `%` take ints only; comparisons give bool
(`==`/`!=` also compare two bools); `and`/`or`/`not` take bools; `floor`/`ceil` give int;
`abs`, `relu`, `sign`, `min`, `max`, `clamp` keep int when every argument is int; `where`
takes a bool and two numbers (or two bools). A violation raises `TypeRuleError`, whose message
completes "'OP' ..." and whose hint is the fix.
"""

from __future__ import annotations

from .nodes import BOOL, FLOAT, INT, COMPARE_OPS

NUMERIC = (INT, FLOAT)
_INT_PRESERVING = {"abs", "relu", "sign", "min", "max", "clamp", "add", "sub", "mul", "neg"}
_INT_RESULT = {"floor", "ceil"}
_FLOAT_RESULT = {"div", "pow", "exp", "exp2", "log", "log2", "log1p", "sqrt", "rsqrt", "tanh", "sigmoid",
                 "softplus", "elu", "silu", "gelu", "sin", "cos", "erf", "taylor2"}


class TypeRuleError(Exception):
    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint


def _numbers(op: str, types: tuple[str, ...]) -> None:
    for k, t in enumerate(types):
        if t == BOOL:
            where = "" if len(types) == 1 else f" (argument {k + 1})"
            raise TypeRuleError(f"needs a number; got bool{where}", "use where(cond, 1, 0) to turn a bool into a number")


def result_type(op: str, types: tuple[str, ...]) -> str:
    """The type of `op` applied to arguments of `types`; raises TypeRuleError if ill-typed."""
    if op in ("search_left", "search_right"):  # tile analysis only (ir.SEARCH_OPS)
        return INT
    if op in ("and", "or", "not"):
        for t in types:
            if t != BOOL:
                raise TypeRuleError(f"needs bool operands; got {t}", "compare to get a bool, e.g. (i % 2) == 0")
        return BOOL
    if op in COMPARE_OPS:
        a, b = types
        if op in ("eq", "ne") and a == BOOL and b == BOOL:
            return BOOL
        if BOOL in types:
            raise TypeRuleError(f"compares numbers; got {a} and {b}",
                                "compare two bools only with == or !=" if a == b == BOOL else None)
        return BOOL
    if op == "where":
        cond, a, b = types
        if cond != BOOL:
            raise TypeRuleError(f"needs a bool condition first; got {cond}", "write where(cond, a, b)")
        if a == BOOL and b == BOOL:
            return BOOL
        if BOOL in (a, b):
            raise TypeRuleError(f"needs two numbers or two bools; got {a} and {b}")
        return INT if a == b == INT else FLOAT
    if op in ("floordiv", "mod"):
        _numbers(op, types)
        if FLOAT in types:
            raise TypeRuleError("needs int operands; got float", "use floor(a / b) for floats")
        return INT
    _numbers(op, types)
    if op in _INT_RESULT:
        return INT
    if op in _FLOAT_RESULT:
        return FLOAT
    if op in _INT_PRESERVING:
        return INT if all(t == INT for t in types) else FLOAT
    raise TypeRuleError("is not an operator the language knows")
