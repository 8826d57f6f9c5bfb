"""Check: `syntax.Module` -> `ir.Spec`, or a `SpecError` listing every error in the file.

Before: a syntax tree straight from the parser (names unresolved, nothing typed).
After: a Spec whose expressions are typed IR (see ir.py): names resolved to symbols, params
and input loads; lets substituted; defaults filled in. Checked here: statements used twice,
names (unknown, reserved, defined twice, with did-you-mean), types (int / float / bool, with
the promotions DSL.md allows), arity, input dims, which symbols each statement may use, the
tile names and values, and the linear-attention rules. Every error is collected; the checker
keeps going after one so that a file's errors are all reported together.
"""

from __future__ import annotations

import builtins
import hashlib
import keyword
from dataclasses import dataclass
from typing import Optional

from . import ir
from . import syntax as S
from .errors import Diagnostic, SpecError, did_you_mean
from .ir import BOOL, FLOAT, INT
from .parser import RESERVED_WORDS
from .typing_rules import TypeRuleError, result_type

# Names the generated module uses for its own arguments: a param or input may not take them.
API_NAMES = ("q", "k", "v", "o", "scale", "return_lse", "deterministic", "initial_state", "return_state",
             "torch", "math", "triton", "tl")
# Module-level names of every generated module: the spec's name may not replace them.
MODULE_NAMES = ("attention", "torch", "math", "triton", "tl", "SPEC_NAME", "SPEC_DOC", "SPEC_HASH", "BACKEND",
                "FAMILY", "NORM", "PARAMS", "INPUTS", "TILE")
PYTHON_BUILTINS = frozenset(name for name in dir(builtins) if not name.startswith("_"))
SINGLE_STATEMENTS = ("mask", "score", "norm", "feature", "decay", "scale", "tile")


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


class _Checker:
    def __init__(self, module: S.Module):
        self.module = module
        self.errors: list[Diagnostic] = []
        self.params: dict[str, ir.Param] = {}
        self.inputs: dict[str, ir.Input] = {}
        self.lets: dict[str, ir.Expr] = {}
        self.defined_at: dict[str, int] = {}  # name -> line of its definition
        self.broken: set[str] = set()  # declared, but the declaration had an error: uses stay quiet
        self.let_lines = {stmt.name: stmt.line for stmt in module.statements if isinstance(stmt, S.LetStmt)}
        self.current_line = 0  # the line of the statement being checked (lets count from there)

    # ------------------------------------------------------------ reporting
    def error(self, line: int, col: int, message: str, hint: Optional[str] = None) -> None:
        self.errors.append(Diagnostic(line, col, message, hint))

    # ------------------------------------------------------------ the spec
    def run(self) -> Optional[ir.Spec]:
        header = self.module.header
        self.check_function_name(header)
        given: dict[str, S.Node] = {}
        for stmt in self.module.statements:
            key = self.statement_key(stmt)
            if key not in SINGLE_STATEMENTS:
                continue
            if key in given:
                self.error(stmt.line, stmt.col, f"'{key}' is given twice; the first is at line {given[key].line}",
                           "each statement other than param, input and let appears at most once")
            else:
                given[key] = stmt
        # Params and inputs are declarations, visible everywhere; lets only after their definition.
        for kind, declare in ((S.ParamStmt, self.declare_param), (S.InputStmt, self.declare_input),
                              (S.LetStmt, self.declare_let)):
            for stmt in self.module.statements:
                if isinstance(stmt, kind):
                    self.current_line = stmt.line
                    declare(stmt)

        linear = "feature" in given
        exprs: dict[str, Optional[ir.Expr]] = {}
        for key in ("mask", "score", "feature", "decay", "scale"):
            stmt = given.get(key)
            if stmt is not None:
                self.current_line = stmt.line
            exprs[key] = self.check_assignment(stmt, key) if stmt is not None else None

        norm = self.check_norm(given.get("norm"), linear, given.get("feature"))
        tile = self.check_tile(given.get("tile"), linear)
        if linear:
            self.check_linear_rules(given, exprs)
        elif "decay" in given:
            stmt = given["decay"]
            self.error(stmt.line, stmt.col, "decay applies only to linear attention",
                       "add a feature statement (e.g. feature = elu(x) + 1), or remove decay")

        if self.errors:
            return None
        return ir.Spec(
            name=header.name,
            doc=header.doc,
            params=tuple(self.params.values()),
            inputs=tuple(self.inputs.values()),
            mask=exprs["mask"] or ir.TRUE,
            score=exprs["score"] or ir.Var("s", FLOAT, "score"),
            norm=norm,
            scale=exprs["scale"] or ir.Op("rsqrt", (ir.Var("D", INT, "size"),), FLOAT),
            feature=exprs["feature"],
            decay=exprs["decay"],
            tile=tile,
            lets=tuple(self.lets.items()),
            given=tuple(sorted(given)),
        )

    @staticmethod
    def statement_key(stmt: S.Node) -> str:
        if isinstance(stmt, S.AssignStmt):
            return stmt.target
        if isinstance(stmt, S.NormStmt):
            return "norm"
        if isinstance(stmt, S.TileStmt):
            return "tile"
        return type(stmt).__name__

    def check_function_name(self, header: S.Header) -> None:
        name = header.name
        hint = None
        if name.startswith("_"):
            hint = "names starting with '_' are reserved for generated code; choose another name"
        elif name in MODULE_NAMES:
            hint = f"the generated module defines '{name}' itself; choose another name"
        elif keyword.iskeyword(name) or name in PYTHON_BUILTINS:
            hint = "choose another name"
        if hint:
            self.error(header.name_line, header.name_col, f"'{name}' cannot name the generated function", hint)

    # ------------------------------------------------------------ declarations
    def check_new_name(self, name: str, line: int, col: int) -> bool:
        reason = None
        if name in self.defined_at:
            reason = f"'{name}' is already defined at line {self.defined_at[name]}"
        elif name in ir.INDEX_SYMBOLS + ir.SIZE_SYMBOLS + ("s", "x") + ir.CONSTANT_NAMES:
            reason = f"'{name}' is a built-in symbol"
        elif name in ir.OPS:
            reason = f"'{name}' is a built-in function"
        elif name in RESERVED_WORDS or keyword.iskeyword(name):
            reason = f"'{name}' is a reserved word"
        elif name in API_NAMES:
            reason = f"'{name}' is a name the generated module uses"
        elif name.startswith("_"):
            reason = f"'{name}' starts with '_', which is reserved for generated code"
        elif name in PYTHON_BUILTINS:
            reason = f"'{name}' is a Python built-in"
        if reason:
            self.error(line, col, f"{reason}; choose another name")
            return False
        self.defined_at[name] = line
        return True

    def declare_param(self, stmt: S.ParamStmt) -> None:
        ok = self.check_new_name(stmt.name, stmt.line, stmt.name_col)
        if stmt.type_name not in ir.TYPES:
            guess = did_you_mean(stmt.type_name, ir.TYPES + ("integer", "boolean"))
            guess = {"integer": "int", "boolean": "bool"}.get(guess, guess)
            hint = f"did you mean '{guess}'?" if guess else None
            self.error(stmt.type_line, stmt.type_col,
                       f"unknown param type '{stmt.type_name}'; expected int, float or bool", hint)
            self.broken.add(stmt.name)
            return
        default = None
        if stmt.default is not None:
            expr = self.expr(stmt.default, CONTEXTS["default"])
            if expr is not None:
                default = self.param_default(stmt, expr)
        if ok:
            self.params[stmt.name] = ir.Param(stmt.name, stmt.type_name, default)

    def param_default(self, stmt: S.ParamStmt, expr: ir.Expr):
        from .constfold import ConstFoldError, evaluate_constant

        node = start_of(stmt.default)
        if expr.type != stmt.type_name and not (stmt.type_name == FLOAT and expr.type == INT):
            self.error(node.line, node.col, f"param '{stmt.name}' is {stmt.type_name} but its default is {expr.type}")
            return None
        try:
            value = evaluate_constant(expr)
        except ConstFoldError as exc:
            self.error(node.line, node.col, f"cannot evaluate the default of '{stmt.name}': {exc}")
            return None
        if stmt.type_name == INT and not -(2 ** 63) <= value < 2 ** 63:
            self.error(node.line, node.col, f"the default of '{stmt.name}' does not fit in 64 bits")
            return None
        return float(value) if stmt.type_name == FLOAT else value

    def declare_input(self, stmt: S.InputStmt) -> None:
        ok = self.check_new_name(stmt.name, stmt.line, stmt.name_col)
        dims = []
        for dim in stmt.dims:
            expr = self.expr(dim, CONTEXTS["dims"])
            if expr is not None and expr.type != INT:
                self.error(start_of(dim).line, start_of(dim).col, f"a dim of input '{stmt.name}' must be int; got {expr.type}",
                           "dims are expressions of the sizes (B, H, N, ...) and int params")
            dims.append(expr)
        dtype = stmt.dtype or "float32"
        if dtype not in ir.INPUT_DTYPES:
            guess = did_you_mean(dtype, ir.INPUT_DTYPES)
            self.error(stmt.dtype_line, stmt.dtype_col, f"unknown dtype '{dtype}'; expected one of "
                       + ", ".join(ir.INPUT_DTYPES), f"did you mean '{guess}'?" if guess else None)
            self.broken.add(stmt.name)
            return
        flags: dict[str, bool] = {}
        for flag, line, col in stmt.flags:
            if flag in flags:
                self.error(line, col, f"'{flag}' is given twice for input '{stmt.name}'")
            flags[flag] = True
            if flag == "learnable" and ir.INPUT_DTYPES[dtype] != FLOAT:
                self.error(line, col, f"input '{stmt.name}' is {dtype}; only float inputs can be learnable",
                           "give it a float dtype (float32, float16, bfloat16) or drop 'learnable'")
            if flag == "sorted" and dtype == "bool":
                self.error(line, col, f"input '{stmt.name}' is bool; only int and float inputs can be sorted")
        if not all(d is not None for d in dims):
            self.broken.add(stmt.name)
        elif ok:
            self.inputs[stmt.name] = ir.Input(stmt.name, tuple(dims), dtype,
                                              learnable="learnable" in flags, sorted="sorted" in flags)

    def declare_let(self, stmt: S.LetStmt) -> None:
        ok = self.check_new_name(stmt.name, stmt.line, stmt.name_col)
        expr = self.expr(stmt.value, CONTEXTS["let"])
        if expr is None:
            self.broken.add(stmt.name)
        elif ok:
            self.lets[stmt.name] = expr

    # ------------------------------------------------------------ statements
    def check_assignment(self, stmt: S.AssignStmt, key: str) -> Optional[ir.Expr]:
        context = CONTEXTS[key]
        expr = self.expr(stmt.value, context)
        if expr is None:
            return None
        node = start_of(stmt.value)
        if key == "mask" and expr.type != BOOL:
            self.error(node.line, node.col, f"the mask must be bool; got {expr.type}",
                       "write a condition, e.g. mask = j <= i")
            return None
        if key != "mask" and expr.type == BOOL:
            self.error(node.line, node.col, f"{context.title} must be a number; got bool",
                       "use where(cond, a, b) to choose between numbers")
            return None
        if key == "feature":
            self.check_taylor2_placement(expr, node)
        return expr

    def check_taylor2_placement(self, expr: ir.Expr, node: S.Node) -> None:
        root_ok = isinstance(expr, ir.Op) and expr.op == "taylor2"
        inner = expr.args if root_ok else (expr,)
        for part in inner:
            for sub in ir.walk(part):
                if isinstance(sub, ir.Op) and sub.op == "taylor2":
                    line, col = sub.pos or (node.line, node.col)
                    self.error(line, col, "taylor2 must be the whole feature expression",
                               "write feature = taylor2(x) (its argument may be an elementwise expression of x)")
                    return

    def check_norm(self, stmt: Optional[S.NormStmt], linear: bool, feature: Optional[S.Node]) -> ir.Norm:
        if stmt is not None:
            self.current_line = stmt.line
        if stmt is None:
            if linear and feature is not None:
                self.error(feature.line, feature.col, "a linear-attention spec needs a norm",
                           "add norm = sum (normalized) or norm = none")
            return ir.Norm("softmax")
        sink = None
        if stmt.sink is not None:
            sink = self.expr(stmt.sink, CONTEXTS["sink"])
            if sink is not None and sink.type == BOOL:
                start = start_of(stmt.sink)
                self.error(start.line, start.col, "the sink must be a number; got bool")
        if linear and stmt.kind == "softmax":
            self.error(stmt.line, stmt.col, "linear attention cannot use softmax",
                       "use norm = sum (normalized) or norm = none")
        return ir.Norm(stmt.kind, sink)

    def check_tile(self, stmt: Optional[S.TileStmt], linear: bool) -> ir.Tile:
        if stmt is None:
            return ir.Tile()
        names = ir.TILE_NAMES_LINEAR if linear else ir.TILE_NAMES_SOFTMAX
        other = ir.TILE_NAMES_SOFTMAX if linear else ir.TILE_NAMES_LINEAR
        family = "linear attention" if linear else "the softmax family"
        options: dict[str, tuple[int, ...]] = {}
        for item in stmt.items:
            if item.name in options:
                self.error(item.line, item.col, f"tile '{item.name}' is given twice")
                continue
            if item.name not in names:
                if item.name in other:
                    hint = f"{family} tiles are: " + ", ".join(names)
                    self.error(item.line, item.col, f"tile '{item.name}' does not apply to {family}", hint)
                else:
                    guess = did_you_mean(item.name, names)
                    self.error(item.line, item.col, f"unknown tile '{item.name}'; expected one of " + ", ".join(names),
                               f"did you mean '{guess}'?" if guess else None)
                continue
            values = []
            for text, line, col in item.values:
                value = self.tile_value(item.name, text, line, col)
                if value is not None and value in values:
                    self.error(line, col, f"tile '{item.name}' lists {value} twice")
                elif value is not None:
                    values.append(value)
            options[item.name] = tuple(values)
        return ir.Tile(tuple(sorted(options.items())))

    def tile_value(self, name: str, text: str, line: int, col: int) -> Optional[int]:
        if not text.isdigit():
            self.error(line, col, f"tile '{name}' takes whole numbers; got {text}")
            return None
        value = int(text)
        if name in ("block_m", "block_n", "chunk"):
            if value < 16 or value & (value - 1):
                self.error(line, col, f"tile '{name}' must be a power of two, at least 16; got {value}")
                return None
        elif name == "warps" and value not in (1, 2, 4, 8, 16):
            self.error(line, col, f"tile 'warps' must be 1, 2, 4, 8 or 16; got {value}")
            return None
        elif name == "stages" and not 1 <= value <= 8:
            self.error(line, col, f"tile 'stages' must be between 1 and 8; got {value}")
            return None
        return value

    def check_linear_rules(self, given: dict[str, S.Node], exprs: dict[str, Optional[ir.Expr]]) -> None:
        from .constfold import is_causal_mask

        if "score" in given:
            stmt = given["score"]
            self.error(stmt.line, stmt.col, "a linear-attention spec cannot have a score",
                       "its score is dot(feature(q_i), feature(k_j)); remove the score statement")
        if "scale" in given:
            stmt = given["scale"]
            self.error(stmt.line, stmt.col, "scale has no effect in linear attention",
                       "the feature map is applied to q and k as given; fold a factor into the feature")
        mask = exprs.get("mask")
        causal = mask is not None and is_causal_mask(mask)
        if "mask" in given and mask is not None and not causal:
            stmt = given["mask"]
            start = start_of(stmt.value)
            self.error(start.line, start.col, "linear attention supports only a causal mask",
                       "write mask = j <= i, or leave the mask out (dense)")
        if "decay" in given and "mask" not in given:
            stmt = given["decay"]
            self.error(stmt.line, stmt.col, "decay needs a causal mask", "add mask = j <= i")

    # ------------------------------------------------------------ expressions
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


def check(module: S.Module, source: str, filename: str = "<spec>") -> ir.Spec:
    """The typed IR of a parsed spec; raises SpecError with every error found."""
    checker = _Checker(module)
    spec = checker.run()
    if checker.errors or spec is None:
        raise SpecError(checker.errors, source, filename)
    digest = hashlib.sha256(source.encode()).hexdigest()
    return ir.Spec(**{**spec.__dict__, "source_hash": digest})
