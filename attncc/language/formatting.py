"""Print IR expressions back in the .attn language's own syntax (for `show`, messages, docs).

`format_expr(expr)` uses the language's precedence (the grammar's, lowest first: or, and, not,
comparisons, + -, * / // %, unary -, **) and adds parentheses only where needed, so parsing
the text back gives the same tree up to the desugaring `elaborate` does (min/max nesting, chained
comparisons as `and`).
"""

from __future__ import annotations

import math

from .. import ir

_BINARY = {
    "or": ("or", 1), "and": ("and", 2),
    "eq": ("==", 4), "ne": ("!=", 4), "lt": ("<", 4), "le": ("<=", 4), "gt": (">", 4), "ge": (">=", 4),
    "add": ("+", 5), "sub": ("-", 5),
    "mul": ("*", 6), "div": ("/", 6), "floordiv": ("//", 6), "mod": ("%", 6),
    "pow": ("**", 8),
}
_ATOM = 9


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value == math.pi:
            return "pi"
        return repr(value)
    return str(value)


def _format(expr: ir.Expr) -> tuple[str, int]:
    """The text of `expr` and its precedence level (higher binds tighter)."""
    if isinstance(expr, ir.Const):
        text = _literal(expr.value)
        return text, (7 if text.startswith("-") else _ATOM)
    if isinstance(expr, ir.Var):
        return expr.name, _ATOM
    if isinstance(expr, ir.Load):
        return f"{expr.input}[{', '.join(format_expr(i) for i in expr.indices)}]", _ATOM
    op = expr.op
    if op in _BINARY:
        symbol, level = _BINARY[op]
        left, right = expr.args
        if level == 8:  # ** is right-associative and binds tighter than unary minus on its left
            lhs = _wrap(left, 9)
            rhs = _wrap(right, 7)
        elif level == 4:  # comparisons do not chain here: each side is an arithmetic expression
            lhs, rhs = _wrap(left, 5), _wrap(right, 5)
        else:
            lhs, rhs = _wrap(left, level), _wrap(right, level + 1)
        return f"{lhs} {symbol} {rhs}", level
    if op == "neg":
        return f"-{_wrap(expr.args[0], 7)}", 7
    if op == "not":
        return f"not {_wrap(expr.args[0], 3)}", 3
    return f"{op}({', '.join(format_expr(a) for a in expr.args)})", _ATOM


def _wrap(expr: ir.Expr, level: int) -> str:
    text, own = _format(expr)
    return text if own >= level else f"({text})"


def format_expr(expr: ir.Expr) -> str:
    """`expr` in .attn syntax with minimal parentheses."""
    return _format(expr)[0]
