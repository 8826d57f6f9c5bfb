"""Elaborate: `syntax.Module` -> `ir.Spec`, or a `SpecError` listing every error in the file.

Before: a syntax tree straight from the parser (names unresolved, nothing typed).
After: a Spec whose expressions are typed IR (see ir/nodes.py): names resolved to symbols, params
and input loads; lets substituted; defaults filled in. Checked here: statements used twice,
names (unknown, reserved, defined twice, with did-you-mean), types (int / float / bool, with
the promotions DSL.md allows), arity, input dims, which symbols each statement may use, the
tile names and values, and the linear-attention rules. Every error is collected; elaboration
keeps going after one so that a file's errors are all reported together.
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import keyword
from typing import Optional

from .. import ir
from . import syntax as S
from .errors import Diagnostic, SpecError, did_you_mean
from ..ir import BOOL, FLOAT, INT
from ..runtime.schedule import tile_problem
from ..runtime import schedule
from .parser import RESERVED_WORDS
from .elaborate_exprs import CONTEXTS, ExpressionElaborator, start_of

# Names the generated module uses for its own arguments: a param or input may not take them.
API_NAMES = ("q", "k", "v", "o", "scale", "return_lse", "deterministic", "initial_state", "return_state",
             "kernel_options", "state", "torch", "math", "triton", "tl")
# Module-level names of every generated module: the spec's name may not replace them.
# The schedule code (attncc/runtime/schedule.py) is copied into every Triton module: its names too.
MODULE_NAMES = ("attention", "step", "torch", "math", "triton", "tl", "os", "SPEC_NAME", "SPEC_DOC", "SPEC_HASH",
                "BACKEND", "FAMILY", "NORM", "PARAMS", "INPUTS", "TILE", "chosen_tiles") \
    + tuple(name for name in vars(schedule) if not name.startswith("_"))
PYTHON_BUILTINS = frozenset(name for name in dir(builtins) if not name.startswith("_"))
SINGLE_STATEMENTS = ("mask", "score", "norm", "feature", "decay", "scale", "tile")


class _Elaborator(ExpressionElaborator):
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
        self.validate_function_name(header)
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
            exprs[key] = self.validate_assignment(stmt, key) if stmt is not None else None

        norm = self.validate_norm(given.get("norm"), linear, given.get("feature"))
        tile = self.validate_tile(given.get("tile"), linear)
        if linear:
            self.validate_linear_rules(given, exprs)
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

    def validate_function_name(self, header: S.Header) -> None:
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
    def validate_new_name(self, name: str, line: int, col: int) -> bool:
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
        ok = self.validate_new_name(stmt.name, stmt.line, stmt.name_col)
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
        from ..ir.constfold import ConstFoldError, evaluate_constant

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
        ok = self.validate_new_name(stmt.name, stmt.line, stmt.name_col)
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
        ok = self.validate_new_name(stmt.name, stmt.line, stmt.name_col)
        expr = self.expr(stmt.value, CONTEXTS["let"])
        if expr is None:
            self.broken.add(stmt.name)
        elif ok:
            self.lets[stmt.name] = expr

    # ------------------------------------------------------------ statements
    def validate_assignment(self, stmt: S.AssignStmt, key: str) -> Optional[ir.Expr]:
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
            self.validate_taylor2_placement(expr, node)
        return expr

    def validate_taylor2_placement(self, expr: ir.Expr, node: S.Node) -> None:
        root_ok = isinstance(expr, ir.Op) and expr.op == "taylor2"
        inner = expr.args if root_ok else (expr,)
        for part in inner:
            for sub in ir.walk(part):
                if isinstance(sub, ir.Op) and sub.op == "taylor2":
                    line, col = sub.pos or (node.line, node.col)
                    self.error(line, col, "taylor2 must be the whole feature expression",
                               "write feature = taylor2(x) (its argument may be an elementwise expression of x)")
                    return

    def validate_norm(self, stmt: Optional[S.NormStmt], linear: bool, feature: Optional[S.Node]) -> ir.Norm:
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

    def validate_tile(self, stmt: Optional[S.TileStmt], linear: bool) -> ir.Tile:
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
        problem = tile_problem(name, value)  # the schedule's own rule for every tile value
        if problem:
            self.error(line, col, problem)
            return None
        return value

    def validate_linear_rules(self, given: dict[str, S.Node], exprs: dict[str, Optional[ir.Expr]]) -> None:
        from ..ir.constfold import is_always_true, is_causal_mask

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
        dense = mask is not None and is_always_true(mask)
        if "mask" in given and mask is not None and not causal and not dense:
            stmt = given["mask"]
            start = start_of(stmt.value)
            self.error(start.line, start.col, "linear attention supports only a causal mask",
                       "write mask = j <= i, or leave the mask out (dense)")
        if "decay" in given and ("mask" not in given or dense):
            stmt = given["decay"]
            self.error(stmt.line, stmt.col, "decay needs a causal mask", "add mask = j <= i")

def elaborate(module: S.Module, source: str, filename: str = "<spec>") -> ir.Spec:
    """The typed IR of a parsed spec; raises SpecError with every error found."""
    elaborator = _Elaborator(module)
    spec = elaborator.run()
    if elaborator.errors or spec is None:
        raise SpecError(elaborator.errors, source, filename)
    digest = hashlib.sha256(source.encode()).hexdigest()
    return dataclasses.replace(spec, source_hash=digest)
