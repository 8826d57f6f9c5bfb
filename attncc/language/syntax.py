"""The abstract syntax tree: what the parser produces, before any checking.

Plain frozen dataclasses. Every node has `line` and `col` (1-based): for operators, the
operator's own position; for calls and indexing, the function's or input's name. Names are not
resolved here and nothing is typed: that is `elaborate`'s job, which turns this tree into the IR.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Node:
    line: int
    col: int


# ---- expressions ----

@dataclass(frozen=True)
class Number(Node):
    text: str  # as written; an int unless it has a '.' or an exponent


@dataclass(frozen=True)
class BoolLit(Node):
    value: bool


@dataclass(frozen=True)
class Name(Node):
    id: str


@dataclass(frozen=True)
class Call(Node):
    fn: str
    args: tuple


@dataclass(frozen=True)
class Index(Node):
    input: str
    indices: tuple


@dataclass(frozen=True)
class Unary(Node):
    op: str  # "-", "+", "not"
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str  # + - * / // % ** and or
    left: Node
    right: Node


@dataclass(frozen=True)
class Compare(Node):
    """A chain `a < b <= c`: ops[k] sits between operands[k] and operands[k + 1]."""

    operands: tuple
    ops: tuple
    op_positions: tuple  # (line, col) of each operator


# ---- statements ----

@dataclass(frozen=True)
class Header(Node):
    name: str
    doc: str | None
    name_line: int
    name_col: int


@dataclass(frozen=True)
class ParamStmt(Node):
    name: str
    name_col: int
    type_name: str
    type_line: int
    type_col: int
    default: Node | None


@dataclass(frozen=True)
class InputStmt(Node):
    name: str
    name_col: int
    dims: tuple
    dtype: str | None
    dtype_line: int
    dtype_col: int
    flags: tuple  # of (flag, line, col)


@dataclass(frozen=True)
class LetStmt(Node):
    name: str
    name_col: int
    value: Node


@dataclass(frozen=True)
class AssignStmt(Node):
    """`mask = e`, `score = e`, `feature = e`, `decay = e`, `scale = e`."""

    target: str
    value: Node


@dataclass(frozen=True)
class NormStmt(Node):
    kind: str  # softmax | sum | none
    sink: Node | None


@dataclass(frozen=True)
class TileItem(Node):
    name: str
    values: tuple  # of (text, line, col)


@dataclass(frozen=True)
class TileStmt(Node):
    items: tuple


@dataclass(frozen=True)
class Module(Node):
    header: Header
    statements: tuple
