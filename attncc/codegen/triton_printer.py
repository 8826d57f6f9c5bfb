"""Print IR expressions as Triton source for the kernels of the triton backend.

Where printed code runs (the kernel templates define these names):
- `i`, `j`: int32 tensors of positions, broadcastable against each other (a query column and a
  key row, or the transpose in the key-side pass); `b`, `h`: int32 scalars; the sizes `B`, `H`,
  `HKV`, `N`, `M`, `D`, `DV`: int32 scalars (kernel arguments that are never specialised);
  `s`: the float tile of scaled dots; `score`: the forward score (for derivatives); the tile
  bounds `i_lo`, `i_hi`, `j_lo`, `j_hi`: int32 scalars.
- a param `p` is the kernel argument `P_p`; an input `x` is the pointer `X_x` with strides
  `X_x_s0, X_x_s1, ...` and sizes `X_x_d0, ...` (reads outside give 0, as the language says).
- `FP` is the float compute type (a constexpr: tl.float32, or tl.float64 for float64 inputs).

User names only ever appear behind the `P_`/`X_` prefixes, and the templates' own locals never
start with them, so a spec cannot shadow anything. `//` and `%` keep Python's floor semantics
unless both operands are provably non-negative; the float functions Triton lacks are jit helpers
defined in backends/triton/helpers.py.jinja (`_tanh`, `_log1p`, ...).
"""

from __future__ import annotations

import math

from .. import ir
from ..ir import BOOL, FLOAT, INT

_INFIX = {"add": "+", "sub": "-", "mul": "*",
          "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_TL_FLOAT_FUNCTIONS = {
    "exp": "tl.exp", "exp2": "tl.exp2", "log": "tl.log", "log2": "tl.log2", "sqrt": "tl.sqrt",
    "rsqrt": "tl.rsqrt", "sin": "tl.sin", "cos": "tl.cos", "erf": "tl.erf",
    "sigmoid": "_sigmoid", "tanh": "_tanh", "log1p": "_log1p", "softplus": "_softplus",
    "elu": "_elu", "silu": "_silu", "gelu": "_gelu",
}
_NON_NEGATIVE_VARS = ("i", "j", "b", "h", "i_lo", "i_hi", "j_lo", "j_hi") + ir.SIZE_SYMBOLS
POW_UNROLL = 8  # x ** n with a constant |n| <= POW_UNROLL is printed as products


def float_literal(value: float) -> str:
    if math.isnan(value):
        return 'float("nan")'
    if math.isinf(value):
        return 'float("inf")' if value > 0 else 'float("-inf")'
    text = repr(float(value))
    return text if value >= 0 else f"({text})"


def non_negative(expr: ir.Expr) -> bool:
    """Whether an int expression is non-negative by its form alone (positions, sizes, ...)."""
    if isinstance(expr, ir.Const):
        return expr.type == INT and expr.value >= 0
    if isinstance(expr, ir.Var):
        return expr.name in _NON_NEGATIVE_VARS
    if isinstance(expr, ir.Op):
        if expr.op in ("add", "mul", "floordiv", "min", "max") and expr.type == INT:
            return all(non_negative(a) for a in expr.args)
        if expr.op == "abs":
            return True
        if expr.op == "mod":
            return non_negative(expr.args[1])
    return False


class TritonPrinter:
    """IR -> a Triton expression (see the module docstring for the names it assumes). With
    `index_dtype` (the softmax kernels' constexpr IDX: int32, or int64 where the call's sizes
    and strides could pass 2**31) every input index is taken in that dtype before it meets a
    stride."""

    def __init__(self, index_dtype: str = ""):
        self.index_dtype = index_dtype

    def offset_index(self, index: ir.Expr) -> str:
        code = self.print(index)
        if not self.index_dtype or isinstance(index, ir.Const):
            return code
        return f"({code}).to({self.index_dtype})"

    def __call__(self, expr: ir.Expr) -> str:
        return self.print(expr)

    def print(self, expr: ir.Expr) -> str:
        if isinstance(expr, ir.Const):
            if expr.type == BOOL:
                return "True" if expr.value else "False"
            if expr.type == INT:
                return str(expr.value) if expr.value >= 0 else f"({expr.value})"
            return float_literal(expr.value)
        if isinstance(expr, ir.Var):
            return f"P_{expr.name}" if expr.kind == "param" else expr.name
        if isinstance(expr, ir.Load):
            return self.load(expr)
        return self.op(expr)

    def as_float(self, expr: ir.Expr) -> str:
        """`expr` as a float of the compute type (int constants become float literals)."""
        if expr.type == FLOAT:
            return self.print(expr)
        if isinstance(expr, ir.Const):
            return float_literal(float(expr.value))
        return f"({self.print(expr)}).to(FP)"

    def load(self, e: ir.Load) -> str:
        """A guarded read: the offset from the strides, a mask from the sizes, 0 outside."""
        indices = [self.offset_index(x) for x in e.indices]
        base = f"X_{e.input}"
        offset = " + ".join(f"({x}) * {base}_s{k}" for k, x in enumerate(indices))
        inside = self.inside(e.indices, base)
        # `!= 0` makes the interpreter build a fresh mask array: it rejects broadcast views.
        read = f"tl.load({base} + {offset}, mask=({inside}) != 0, other=0)"
        if e.type == FLOAT:
            return f"{read}.to(FP)"
        if e.type == BOOL:
            return f"({read} != 0)"
        return read

    def inside(self, indices, base: str) -> str:
        """The test that `indices` lie inside the input whose sizes are `<base>_d0, ...`."""
        tests = []
        for k, index in enumerate(indices):
            x = self.print(index)
            if not non_negative(index):
                tests.append(f"({x} >= 0)")
            tests.append(f"({x} < {base}_d{k})")
        return " & ".join(tests)

    def op(self, e: ir.Op) -> str:
        a, name = e.args, e.op
        if name in ("add", "sub", "mul"):
            if e.type == FLOAT:
                return f"({self.as_float(a[0])} {_INFIX[name]} {self.as_float(a[1])})"
            return f"({self.print(a[0])} {_INFIX[name]} {self.print(a[1])})"
        if name in ("eq", "ne", "lt", "le", "gt", "ge"):
            if FLOAT in (a[0].type, a[1].type):
                # `!= 0`: Triton's interpreter keeps a float comparison of scalars in the float
                # operand's dtype, which `&` and `|` then reject; compiled, it folds away.
                return f"(({self.as_float(a[0])} {_INFIX[name]} {self.as_float(a[1])}) != 0)"
            return f"({self.print(a[0])} {_INFIX[name]} {self.print(a[1])})"
        if name in ("floordiv", "mod"):
            x, y = self.print(a[0]), self.print(a[1])
            if non_negative(a[0]) and non_negative(a[1]):
                return f"({x} {'//' if name == 'floordiv' else '%'} {y})"
            return f"_floor{'div' if name == 'floordiv' else 'mod'}({x}, {y})"
        if name == "neg":
            return f"(-{self.as_float(a[0]) if e.type == FLOAT else self.print(a[0])})"
        if name == "div":
            return f"({self.as_float(a[0])} / {self.as_float(a[1])})"
        if name == "pow":
            return self.power(a[0], a[1])
        if name in ("and", "or"):
            return f"({self.print(a[0])} {'&' if name == 'and' else '|'} {self.print(a[1])})"
        if name == "not":
            return f"({self.print(a[0])} == 0)"
        cast = self.as_float if e.type == FLOAT else self.print
        if name == "where":
            return f"tl.where({self.print(a[0])}, {cast(a[1])}, {cast(a[2])})"
        if name == "min":
            return f"tl.minimum({cast(a[0])}, {cast(a[1])})"
        if name == "max":
            return f"tl.maximum({cast(a[0])}, {cast(a[1])})"
        if name == "clamp":
            return f"tl.minimum(tl.maximum({cast(a[0])}, {cast(a[1])}), {cast(a[2])})"
        if name == "relu":
            return f"tl.maximum({cast(a[0])}, {'0.0' if e.type == FLOAT else '0'})"
        if name == "abs":
            return f"tl.abs({cast(a[0])})"
        if name == "sign":
            one, zero = ("1.0", "0.0") if e.type == FLOAT else ("1", "0")
            x = cast(a[0])
            return f"tl.where({x} > 0, {one}, tl.where({x} < 0, -{one}, {zero}))"
        if name in ("floor", "ceil"):
            if a[0].type == INT:
                return self.print(a[0])
            return f"tl.{name}({self.as_float(a[0])}).to(tl.int32)"
        if name in _TL_FLOAT_FUNCTIONS:
            return f"{_TL_FLOAT_FUNCTIONS[name]}({self.as_float(a[0])})"
        if name in ("search_left", "search_right"):
            return self.search(e)
        raise ValueError(f"the triton printer has no spelling for op '{name}'")

    def search(self, e: ir.Op) -> str:
        """A binary search of a sorted input's row (helpers.py.jinja's _search_sorted) over the
        input's actual last dim."""
        row, value, _ = e.args
        base = f"X_{row.input}"
        last = len(row.indices) - 1
        offset = "".join(f" + ({self.print(x)}).to(tl.int64) * {base}_s{k}" for k, x in enumerate(row.indices[:last]))
        return (f"_search_sorted({base}{offset}, {base}_s{last}, {base}_d{last}, {self.print(value)}, "
                f"{e.op == 'search_right'})")

    def power(self, base: ir.Expr, exponent: ir.Expr) -> str:
        """`base ** exponent` as a float: products for small constant ints, else exp/log."""
        x = self.as_float(base)
        value = exponent.value if isinstance(exponent, ir.Const) else None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= POW_UNROLL:
            if value == 0:
                return f"(({x}) * 0.0 + 1.0)"
            product = " * ".join([f"({x})"] * abs(value))
            return f"({product})" if value > 0 else f"(1.0 / ({product}))"
        if value == 0.5:
            return f"tl.sqrt({x})"
        if isinstance(base, ir.Const) and not isinstance(base.value, bool) and base.value > 0 \
                and not isinstance(exponent, ir.Const):
            # b ** y = exp(y * ln b) with ln b a literal: exact in the compute type (a literal base
            # would otherwise be a float32 constant inside _pow, even in float64 kernels).
            return f"tl.exp({self.as_float(exponent)} * {float_literal(math.log(base.value))})"
        return f"_pow({x}, {self.as_float(exponent)})"
