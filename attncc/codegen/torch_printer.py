"""Print IR expressions as PyTorch source for the dense reference backend.

Two modes:
- tensor mode (`TorchPrinter`): the symbols i, j, b, h, s, x are broadcastable tensors, sizes and
  params are Python scalars. Every float result is a tensor of the compute dtype: int operands of
  float operations go through `_f(...)` (to the compute dtype and device), tensor-only functions
  get `_t(...)`-wrapped operands. Both helpers are defined by the backend template. Input reads
  print as `_read(name, (index, ...))`, which guards the bounds (reads outside give 0 / False).
- scalar mode (`ScalarPrinter`): plain Python on ints (input dims in argument checks).

Printing is deterministic and fully parenthesised; nothing here decides anything about the
spec beyond how one node is spelled.
"""

from __future__ import annotations

import math

from .. import ir
from ..ir import FLOAT, INT

_INFIX = {"add": "+", "sub": "-", "mul": "*", "floordiv": "//", "mod": "%",
          "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_TORCH_FLOAT_FUNCTIONS = {
    "exp": "torch.exp", "exp2": "torch.exp2", "log": "torch.log", "log2": "torch.log2",
    "log1p": "torch.log1p", "sqrt": "torch.sqrt", "rsqrt": "torch.rsqrt", "tanh": "torch.tanh",
    "sigmoid": "torch.sigmoid", "sin": "torch.sin", "cos": "torch.cos", "erf": "torch.erf",
    "elu": "torch.nn.functional.elu", "silu": "torch.nn.functional.silu",
    "gelu": "torch.nn.functional.gelu",
}


def python_literal(value) -> str:
    """A Python literal for an int, float, bool or None constant (inf as math.inf)."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value) if value >= 0 else f"({value})"
    if math.isnan(value):
        return "math.nan"
    if math.isinf(value):
        return "math.inf" if value > 0 else "(-math.inf)"
    text = repr(float(value))
    return text if value >= 0 else f"({text})"


class _Printer:
    """Constants and symbols print the same in both modes (x is bound as a local named x)."""

    def __call__(self, expr: ir.Expr) -> str:
        return self.print(expr)

    def print(self, expr: ir.Expr) -> str:
        if isinstance(expr, ir.Const):
            return python_literal(expr.value)
        if isinstance(expr, ir.Var):
            return expr.name
        return self.node(expr)


class TorchPrinter(_Printer):
    """IR -> torch source in tensor mode."""

    def node(self, expr: ir.Expr) -> str:
        if isinstance(expr, ir.Load):
            indices = ", ".join(self.print(i) for i in expr.indices)
            read = f"_read({expr.input}, ({indices},))"
            return f"_f({read})" if expr.type == FLOAT else read
        return self.op(expr)

    def as_float(self, expr: ir.Expr) -> str:
        """`expr` as a float tensor of the compute dtype."""
        text = self.print(expr)
        return text if expr.type == FLOAT and not isinstance(expr, (ir.Const, ir.Var)) else f"_f({text})"

    def as_tensor(self, expr: ir.Expr) -> str:
        """`expr` as a tensor of its own type (float ones in the compute dtype)."""
        return self.as_float(expr) if expr.type == FLOAT else f"_t({self.print(expr)})"

    def op(self, e: ir.Op) -> str:
        a = e.args
        name = e.op
        if name in ("add", "sub", "mul"):
            if e.type == FLOAT:
                return f"({self.as_float(a[0])} {_INFIX[name]} {self.as_float(a[1])})"
            return f"({self.print(a[0])} {_INFIX[name]} {self.print(a[1])})"
        if name in ("floordiv", "mod") or name in ("eq", "ne", "lt", "le", "gt", "ge"):
            return f"({self.print(a[0])} {_INFIX[name]} {self.print(a[1])})"
        if name == "neg":
            return f"(-{self.as_float(a[0]) if e.type == FLOAT else self.print(a[0])})"
        if name == "div":
            return f"({self.as_float(a[0])} / {self.as_float(a[1])})"
        if name == "pow":
            return f"torch.pow({self.as_float(a[0])}, {self.as_float(a[1])})"
        if name in ("and", "or"):
            return f"torch.logical_{name}({self.as_tensor(a[0])}, {self.as_tensor(a[1])})"
        if name == "not":
            return f"torch.logical_not({self.as_tensor(a[0])})"
        if name == "where":
            cast = self.as_float if e.type == FLOAT else self.as_tensor
            return f"torch.where({self.as_tensor(a[0])}, {cast(a[1])}, {cast(a[2])})"
        if name in ("min", "max", "clamp", "abs", "sign", "relu"):
            cast = self.as_float if e.type == FLOAT else self.as_tensor
            args = [cast(x) for x in a]
            if name == "min":
                return f"torch.minimum({args[0]}, {args[1]})"
            if name == "max":
                return f"torch.maximum({args[0]}, {args[1]})"
            if name == "clamp":
                return f"torch.minimum(torch.maximum({args[0]}, {args[1]}), {args[2]})"
            if name == "relu":
                return f"torch.clamp_min({args[0]}, 0)"
            return f"torch.{name}({args[0]})"
        if name in ("floor", "ceil"):
            if a[0].type == INT:
                return self.print(a[0])
            return f"torch.{name}({self.as_float(a[0])}).long()"
        if name == "softplus":
            return f"torch.logaddexp({self.as_float(a[0])}, _f(0.0))"
        if name in _TORCH_FLOAT_FUNCTIONS:
            return f"{_TORCH_FLOAT_FUNCTIONS[name]}({self.as_float(a[0])})"
        raise ValueError(f"the torch printer has no spelling for op '{name}'")


class ScalarPrinter(_Printer):
    """IR -> plain Python on int/float/bool scalars (no tensors, no symbols but sizes/params)."""

    _CALLS = {"abs": "abs", "min": "min", "max": "max"}

    def node(self, expr: ir.Expr) -> str:
        if isinstance(expr, ir.Load):
            raise ValueError("an input read cannot be printed as a scalar")
        a = [self.print(x) for x in expr.args]
        name = expr.op
        if name in _INFIX:
            return f"({a[0]} {_INFIX[name]} {a[1]})"
        simple = {"neg": "(-{0})", "div": "({0} / {1})", "pow": "(float({0}) ** {1})",
                  "and": "({0} and {1})", "or": "({0} or {1})", "not": "(not {0})",
                  "where": "({1} if {0} else {2})", "clamp": "min(max({0}, {1}), {2})",
                  "relu": "max({0}, 0)", "sign": "((({0}) > 0) - (({0}) < 0))"}
        if name in simple:
            return simple[name].format(*a)
        if name in self._CALLS:
            return f"{self._CALLS[name]}({', '.join(a)})"
        if name in ("floor", "ceil", "exp", "log", "log2", "log1p", "sqrt", "tanh", "sin", "cos", "erf"):
            return f"math.{name}({a[0]})"
        if name == "exp2":
            return f"(2.0 ** {a[0]})"
        if name == "rsqrt":
            return f"(1.0 / math.sqrt({a[0]}))"
        raise ValueError(f"op '{name}' cannot be printed as a scalar expression")
