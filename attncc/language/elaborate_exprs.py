"""Elaborate expressions: syntax expression nodes -> typed IR, in a context that says what they may use.

`ExpressionElaborator` is the expression half of elaboration (elaborate.py holds the statements). It
expects its subclass to hold `params`, `inputs`, `lets` (elaborated so far), `broken` (names whose
declaration failed: their uses stay quiet), `let_lines`, `current_line` and an `error` method.
Each `expr_*` method returns the IR of one node kind, or None after reporting why it has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .. import ir
from . import syntax as S
from .errors import did_you_mean
from ..ir import BOOL, FLOAT, INT
from ..ir.typing_rules import TypeRuleError, result_type


@dataclass(frozen=True)
class Context:
    """Where an expression stands, and which symbols it may use there."""

    title: str  # e.g. "the mask"
    index: tuple[str, ...]  # allowed index symbols
    score: bool = False  # may use s
    feature: bool = False  # may use x
    loads: bool = True
    params: bool = True
    sizes: bool = True

    def allowed_words(self) -> str:
        parts = list(self.index)
        if self.score:
            parts.append("s")
        if self.feature:
            parts.append("x")
        if self.sizes:
            parts.append("sizes (B, H, HKV, N, M, D, DV)")
        if self.params:
            parts.append("params")
        if self.loads:
            parts.append("inputs")
        return ", ".join(parts) if parts else "constants only"


CONTEXTS = {
    "mask": Context("the mask", ("i", "j", "b", "h")),
    "score": Context("the score", ("i", "j", "b", "h"), score=True),
    "sink": Context("the sink", ("b", "h", "i")),
    "feature": Context("the feature map", (), feature=True, loads=False),
    "decay": Context("the decay", ("h",)),
    "scale": Context("the scale", (), loads=False),
    "dims": Context("an input's dims", (), loads=False),
    "default": Context("a param default", (), loads=False, params=False, sizes=False),
    "let": Context("a let", ("i", "j", "b", "h"), score=True, feature=True),
}


def start_of(node: S.Node) -> S.Node:
    """The leftmost node of an expression: where an error about the whole of it points."""
    while True:
        if isinstance(node, S.Binary):
            node = node.left
        elif isinstance(node, S.Compare):
            node = node.operands[0]
        else:
            return node


class ExpressionElaborator:
    def expr(self, node: S.Node, ctx: Context) -> Optional[ir.Expr]:
        """The typed IR of `node` in `ctx`, or None after reporting why it has none."""
        method = getattr(self, "expr_" + type(node).__name__)
        return method(node, ctx)

    def expr_Number(self, node: S.Number, ctx: Context):
        text = node.text
        if any(c in text for c in ".eE"):
            return ir.Const(float(text), FLOAT)
        value = int(text)
        if value >= 2 ** 63:
            self.error(node.line, node.col, f"the int {text} does not fit in 64 bits",
                       "write it as a float (e.g. 1e30) if a large number is meant")
            return None
        return ir.Const(value, INT)

    def expr_BoolLit(self, node: S.BoolLit, ctx: Context):
        return ir.Const(node.value, BOOL)

    def expr_Name(self, node: S.Name, ctx: Context):
        name = node.id
        if name == "inf":
            return ir.Const(float("inf"), FLOAT)
        if name == "pi":
            return ir.Const(3.141592653589793, FLOAT)
        if name in ir.INDEX_SYMBOLS:
            return self.symbol(node, ctx, name in ctx.index, ir.Var(name, INT, "index"))
        if name == "s":
            return self.symbol(node, ctx, ctx.score, ir.Var("s", FLOAT, "score"))
        if name == "x":
            return self.symbol(node, ctx, ctx.feature, ir.Var("x", FLOAT, "feature"))
        if name in ir.SIZE_SYMBOLS:
            return self.symbol(node, ctx, ctx.sizes, ir.Var(name, INT, "size"))
        if name in self.params:
            param = self.params[name]
            return self.symbol(node, ctx, ctx.params, ir.Var(name, param.type, "param"))
        if name in self.broken:
            return None
        if name in self.let_lines and self.let_lines[name] > self.current_line:
            self.error(node.line, node.col, f"'{name}' is used before its definition at line {self.let_lines[name]}",
                       "move the let above its first use")
            return None
        if name in self.lets:
            return self.use_let(node, ctx)
        if name in self.inputs:
            dims = len(self.inputs[name].dims)
            self.error(node.line, node.col, f"input '{name}' must be indexed",
                       f"write {name}[{', '.join('...' for _ in range(dims))}] with {dims} index(es)")
            return None
        if name in ir.OPS:
            self.error(node.line, node.col, f"'{name}' is a function; call it as {name}(...)")
            return None
        self.unknown_name(node, name, ctx)
        return None

    def unknown_name(self, node: S.Node, name: str, ctx: Context) -> None:
        visible = list(self.params) + list(self.lets) + list(self.inputs) + list(ctx.index) + list(ir.SIZE_SYMBOLS)
        visible += ["s"] * ctx.score + ["x"] * ctx.feature + list(ir.CONSTANT_NAMES)
        guess = did_you_mean(name, visible)
        message = f"unknown name '{name}'" + (f"; did you mean '{guess}'?" if guess else "")
        self.error(node.line, node.col, message,
                   None if guess else "declare it first with param, input or let")

    def symbol(self, node: S.Node, ctx: Context, allowed: bool, var: ir.Var):
        if allowed:
            return var
        self.error(node.line, node.col, self.not_allowed_message(var.name, var.kind, ctx),
                   f"{ctx.title} may use: {ctx.allowed_words()}")
        return None

    @staticmethod
    def not_allowed_message(name: str, kind: str, ctx: Context) -> str:
        what = {"index": "position", "score": "score", "feature": "feature variable",
                "size": "size", "param": "param", "load": "input"}[kind]
        if kind == "feature":
            return "'x' exists only inside feature"
        return f"{ctx.title} cannot use the {what} '{name}'"

    def use_let(self, node: S.Name, ctx: Context):
        expr = self.lets[node.id]
        for sub in ir.walk(expr):
            if isinstance(sub, ir.Var):
                allowed = {
                    "index": sub.name in ctx.index, "score": ctx.score, "feature": ctx.feature,
                    "size": ctx.sizes, "param": ctx.params,
                }[sub.kind]
            elif isinstance(sub, ir.Load):
                allowed = ctx.loads
            else:
                continue
            if not allowed:
                what = sub.name if isinstance(sub, ir.Var) else sub.input
                kind = sub.kind if isinstance(sub, ir.Var) else "load"
                self.error(node.line, node.col,
                           f"{self.not_allowed_message(what, kind, ctx)} (through let '{node.id}')",
                           f"{ctx.title} may use: {ctx.allowed_words()}")
                return None
        return expr

    def expr_Index(self, node: S.Index, ctx: Context):
        name = node.input
        if name in self.broken:
            return None
        if name not in self.inputs:
            if name in self.params or name in self.lets or name in ir.INDEX_SYMBOLS + ir.SIZE_SYMBOLS + ("s", "x"):
                self.error(node.line, node.col, f"'{name}' is not an input; only inputs can be indexed")
            else:
                guess = did_you_mean(name, self.inputs)
                self.error(node.line, node.col, f"unknown input '{name}'" + (f"; did you mean '{guess}'?" if guess else ""),
                           None if guess else f"declare it: input {name}[...]")
            return None
        if not ctx.loads:
            self.error(node.line, node.col, f"{ctx.title} cannot read the input '{name}'",
                       f"{ctx.title} may use: {ctx.allowed_words()}")
            return None
        decl = self.inputs[name]
        indices = [self.expr(index, ctx) for index in node.indices]
        if any(index is None for index in indices):
            return None
        if len(indices) != len(decl.dims):
            self.error(node.line, node.col,
                       f"input '{name}' has {len(decl.dims)} dim(s); got {len(indices)} index(es)")
            return None
        for index, sub in zip(indices, node.indices):
            if index.type != INT:
                self.error(sub.line, sub.col, f"an index of '{name}' must be int; got {index.type}",
                           "use floor(...) or // to make an int index" if index.type == FLOAT else None)
                return None
        return ir.Load(name, tuple(indices), decl.type, pos=(node.line, node.col))

    def expr_Call(self, node: S.Call, ctx: Context):
        fn = node.fn
        if fn == "taylor2":
            if not ctx.feature or ctx.title == "a let":
                self.error(node.line, node.col, "taylor2 exists only in feature")
                return None
        elif fn not in ir.FUNCTIONS:
            if fn in self.inputs:
                self.error(node.line, node.col, f"'{fn}' is an input; index it with {fn}[...]")
            else:
                guess = did_you_mean(fn, list(ir.FUNCTIONS) + (["taylor2"] if ctx.feature else []))
                self.error(node.line, node.col, f"unknown function '{fn}'" + (f"; did you mean '{guess}'?" if guess else ""),
                           None if guess else "the functions are: " + " ".join(sorted(ir.FUNCTIONS)))
            return None
        args = [self.expr(arg, ctx) for arg in node.args]
        if any(arg is None for arg in args):
            return None
        arity = ir.OPS[fn]
        variadic = fn in ("min", "max")
        if (variadic and len(args) < 2) or (not variadic and len(args) != arity):
            wanted = "at least 2 arguments" if variadic else f"{arity} argument" + ("s" * (arity != 1))
            self.error(node.line, node.col, f"'{fn}' takes {wanted}; got {len(args)}")
            return None
        result = args[0]
        if variadic:
            for arg in args[1:]:
                result = self.make_op(fn, (result, arg), node)
                if result is None:
                    return None
            return result
        return self.make_op(fn, tuple(args), node)

    def expr_Unary(self, node: S.Unary, ctx: Context):
        operand = self.expr(node.operand, ctx)
        if operand is None:
            return None
        if node.op == "+":
            if operand.type == BOOL:
                self.error(node.line, node.col, "unary '+' needs a number; got bool")
                return None
            return operand
        return self.make_op("neg" if node.op == "-" else "not", (operand,), node, symbol=node.op)

    def expr_Binary(self, node: S.Binary, ctx: Context):
        left = self.expr(node.left, ctx)
        right = self.expr(node.right, ctx)
        if left is None or right is None:
            return None
        return self.make_op(ir.BINARY_OPERATORS[node.op], (left, right), node, symbol=node.op)

    def expr_Compare(self, node: S.Compare, ctx: Context):
        operands = [self.expr(o, ctx) for o in node.operands]
        if any(o is None for o in operands):
            return None
        result = None
        for k, (op, (line, col)) in enumerate(zip(node.ops, node.op_positions)):
            here = S.Node(line, col)
            term = self.make_op(ir.BINARY_OPERATORS[op], (operands[k], operands[k + 1]), here, symbol=op)
            if term is None:
                return None
            result = term if result is None else ir.Op("and", (result, term), BOOL, pos=(line, col))
        return result

    def make_op(self, op: str, args: tuple, node: S.Node, symbol: Optional[str] = None):
        try:
            typ = result_type(op, tuple(a.type for a in args))
        except TypeRuleError as exc:
            name = f"'{symbol or op}'"
            self.error(node.line, node.col, f"{name} {exc.message}", exc.hint)
            return None
        return ir.Op(op, args, typ, pos=(node.line, node.col))
