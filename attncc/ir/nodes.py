"""The IR: an elaborated, typed spec and its small closed expression language.

Everything here is a frozen dataclass; nothing refers to lark or sympy. An expression is one of
four node kinds:

- `Const(value, type)`: an int, float or bool literal (`inf` and `pi` are float Consts);
- `Var(name, type, kind)`: a symbol — kind "index" (i j b h), "score" (s), "feature" (x),
  "size" (B H HKV N M D DV) or "param" (a spec param, by its name);
- `Load(input, indices, type)`: a read of an input tensor, indices of type int;
- `Op(op, args, type)`: an operator or function from `OPS`, args typed as `OPS` says.

Types are the strings "int", "float", "bool". Every node carries its own result type, so passes
and printers never re-infer. `Load` and `Op` may carry the source position they came from
(`pos`, excluded from equality), which the analyses use to name the place of a warning.

After the front end (`language.elaborate`), lets are substituted, `min`/`max` are binary, chained comparisons are `and`s of
binary ones, and defaults are filled in (mask `true`, score `s`, norm softmax, scale
`1/sqrt(D)`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Optional, Tuple, Union

# What `attncc.ir` re-exports: `from .. import ir` then `ir.Spec`, `ir.free_vars`, ...
__all__ = ['INT', 'FLOAT', 'BOOL', 'TYPES', 'INDEX_SYMBOLS', 'SIZE_SYMBOLS', 'CONSTANT_NAMES',
    'ARITH_OPS', 'COMPARE_OPS', 'LOGIC_OPS', 'FUNCTIONS', 'FEATURE_ONLY_FUNCTIONS', 'OPS',
    'SEARCH_OPS', 'BINARY_OPERATORS', 'Pos', 'Const', 'Var', 'Load', 'Op', 'Expr', 'TRUE', 'FALSE', 'SEARCH_INDEX', 'walk',
    'free_vars', 'loads', 'Param', 'INPUT_DTYPES', 'Input', 'Norm', 'TILE_NAMES_SOFTMAX',
    'TILE_NAMES_LINEAR', 'Tile', 'Spec']

INT, FLOAT, BOOL = "int", "float", "bool"
TYPES = (INT, FLOAT, BOOL)

INDEX_SYMBOLS = ("i", "j", "b", "h")
SIZE_SYMBOLS = ("B", "H", "HKV", "N", "M", "D", "DV")
CONSTANT_NAMES = ("true", "false", "inf", "pi")

# Operators and functions: name -> arity. Result types are decided by `typing_rules.result_type`.
ARITH_OPS = {"add": 2, "sub": 2, "mul": 2, "div": 2, "floordiv": 2, "mod": 2, "pow": 2, "neg": 1}
COMPARE_OPS = {"eq": 2, "ne": 2, "lt": 2, "le": 2, "gt": 2, "ge": 2}
LOGIC_OPS = {"and": 2, "or": 2, "not": 1}
FUNCTIONS = {
    "abs": 1, "min": 2, "max": 2, "clamp": 3, "exp": 1, "exp2": 1, "log": 1, "log2": 1,
    "log1p": 1, "sqrt": 1, "rsqrt": 1, "tanh": 1, "sigmoid": 1, "softplus": 1, "relu": 1,
    "elu": 1, "silu": 1, "gelu": 1, "sin": 1, "cos": 1, "erf": 1, "floor": 1, "ceil": 1,
    "sign": 1, "pow": 2, "where": 3,
}
FEATURE_ONLY_FUNCTIONS = {"taylor2": 1}
OPS = {**ARITH_OPS, **COMPARE_OPS, **LOGIC_OPS, **FUNCTIONS, **FEATURE_ONLY_FUNCTIONS}
# Ops the tile analysis builds (never the language): `search_left(row, value, length)` is the first
# k in [0, length) with row[k] >= value (search_right: > value), else length, where `row` is a
# read of a `sorted` input whose last index is SEARCH_INDEX: a binary search of that row.
SEARCH_OPS = {"search_left": 3, "search_right": 3}

# Source operators -> IR op names.
BINARY_OPERATORS = {
    "+": "add", "-": "sub", "*": "mul", "/": "div", "//": "floordiv", "%": "mod", "**": "pow",
    "and": "and", "or": "or",
    "==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge",
}

Pos = Optional[Tuple[int, int]]  # (line, col), 1-based


@dataclass(frozen=True)
class Const:
    value: Union[int, float, bool]
    type: str


@dataclass(frozen=True)
class Var:
    name: str
    type: str
    kind: str  # index | score | feature | size | param


@dataclass(frozen=True)
class Load:
    input: str
    indices: Tuple["Expr", ...]
    type: str
    pos: Pos = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Op:
    op: str
    args: Tuple["Expr", ...]
    type: str
    pos: Pos = field(default=None, compare=False, repr=False)


Expr = Union[Const, Var, Load, Op]

TRUE = Const(True, BOOL)
FALSE = Const(False, BOOL)
SEARCH_INDEX = Var("search.k", INT, "search")  # the searched position in a search op's row


def walk(expr: Expr) -> Iterator[Expr]:
    """Every node of `expr`, parents before children."""
    yield expr
    if isinstance(expr, Op):
        for arg in expr.args:
            yield from walk(arg)
    elif isinstance(expr, Load):
        for index in expr.indices:
            yield from walk(index)


def free_vars(expr: Expr) -> frozenset[str]:
    """The names of the `Var`s in `expr`."""
    return frozenset(node.name for node in walk(expr) if isinstance(node, Var))


def loads(expr: Expr) -> tuple[Load, ...]:
    """The distinct input reads in `expr`, in first-seen order."""
    seen: dict[Load, None] = {}
    for node in walk(expr):
        if isinstance(node, Load):
            seen.setdefault(node, None)
    return tuple(seen)


# ---------------------------------------------------------------- the spec

@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: Union[int, float, bool, None]  # None: required at call time


INPUT_DTYPES = {
    "float32": FLOAT, "float16": FLOAT, "bfloat16": FLOAT,
    "int32": INT, "int64": INT, "bool": BOOL,
}


@dataclass(frozen=True)
class Input:
    name: str
    dims: Tuple[Expr, ...]  # int expressions of size symbols and int params
    dtype: str  # a key of INPUT_DTYPES
    learnable: bool = False
    sorted: bool = False

    @property
    def type(self) -> str:
        return INPUT_DTYPES[self.dtype]


@dataclass(frozen=True)
class Norm:
    kind: str  # softmax | sum | none
    sink: Optional[Expr] = None  # softmax only


TILE_NAMES_SOFTMAX = ("block_m", "block_n", "warps", "stages")
TILE_NAMES_LINEAR = ("chunk",)


@dataclass(frozen=True)
class Tile:
    """The schedule space: for each tile name, the values the autotuner may choose from."""

    options: Tuple[Tuple[str, Tuple[int, ...]], ...] = ()

    def get(self, name: str) -> Optional[Tuple[int, ...]]:
        return dict(self.options).get(name)


@dataclass(frozen=True)
class Spec:
    """An elaborated spec. `feature is None` for the softmax family; else it is linear attention.

    `mask`, `score` and the sink are expressions of i, j, b, h, s, sizes, params and input loads.
    `feature` is an expression of x (possibly `Op("taylor2", (g(x),))` at its root); `decay`
    an expression of h, sizes, params and loads; `scale` of sizes and params.
    `given` lists the statements the source wrote (the rest are defaults).
    """

    name: str
    doc: Optional[str]
    params: Tuple[Param, ...]
    inputs: Tuple[Input, ...]
    mask: Expr
    score: Expr
    norm: Norm
    scale: Expr
    feature: Optional[Expr] = None
    decay: Optional[Expr] = None
    tile: Tile = Tile()
    lets: Tuple[Tuple[str, Expr], ...] = ()
    given: Tuple[str, ...] = ()
    source_hash: str = ""

    @property
    def is_linear(self) -> bool:
        return self.feature is not None

    @property
    def is_taylor2(self) -> bool:
        return isinstance(self.feature, Op) and self.feature.op == "taylor2"

    def param(self, name: str) -> Optional[Param]:
        return next((p for p in self.params if p.name == name), None)

    def input(self, name: str) -> Optional[Input]:
        return next((x for x in self.inputs if x.name == name), None)

    @property
    def learnable_inputs(self) -> Tuple[Input, ...]:
        return tuple(x for x in self.inputs if x.learnable)
