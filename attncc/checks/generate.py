"""The generated gradient-check test file: an elaborated Spec -> the source of test_NAME.py.

Before: the checked Spec the module was rendered from, where the module file lies relative to
the test file, and the user's check values (values.py). After: the source of a plain pytest
file that imports that module, holds the spec's dense torch reference (rendered from the same
IR by the same template as `--backend torch`), and checks forward, lse and every gradient
against it with TESTING.md's rule over a grid of shapes, plus float64 gradcheck. Same inputs,
same bytes. `attncc check` (checks/run.py) imports the file and runs its `checks()`.

Every choice of shape and value is made here, from the IR, and written into the file as data:
- head dims stay at most TAYLOR2_MAX_D for `taylor2` specs (their state grows with D*D);
- N != M only where the spec allows it (not for causal linear attention, nor when an input
  sized by N is read at key positions j, or one sized by M at query positions i);
- int params keep their default unless it is above MAX_INT_PARAM (a 4096 window is just causal
  at the check's lengths); required params get a plain value; the user's values win;
- inputs: ints that index another input stay inside that dim, ints compared for equality are
  small ids, sorted ints are document ids; floats under log/sqrt/rsqrt/a power/a divisor, in a
  `norm = sum` spec or in the decay are positive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from .._version import __version__
from .. import ir
from .values import CheckValues, InputValues, resolve
from ..codegen.render import environment, torch_context
from ..ir.constfold import is_causal_mask
from ..codegen.torch_printer import ScalarPrinter, python_literal

MAX_INT_PARAM = 64
REQUIRED_PARAM_VALUES = {ir.INT: 8, ir.FLOAT: 1.0, ir.BOOL: True}
_TORCH_DTYPE = {"float32": "torch.float32", "float16": "torch.float16", "bfloat16": "torch.bfloat16",
                "int32": "torch.int32", "int64": "torch.int64", "bool": "torch.bool"}
# Ops whose argument (by position) must be positive to be defined or well conditioned.
_POSITIVE_ARGS = {"log": (0,), "log2": (0,), "sqrt": (0,), "rsqrt": (0,), "pow": (0,), "div": (1,)}

# (name, B, H, HKV, N, M, D, DV); M is replaced by N where the spec needs N == M.
CPU_CASES = (
    ("cross_gqa", 1, 4, 2, 17, 63, 16, 24),
    ("one_query_mqa", 2, 2, 1, 1, 33, 40, 40),
    ("odd_tiles", 1, 2, 2, 129, 129, 32, 32),
)
GPU_CASES = (
    ("cross_gqa", 2, 4, 2, 250, 296, 64, 64),
    ("one_query_mqa", 1, 8, 1, 1, 127, 128, 128),
    ("long", 1, 4, 4, 1000, 1000, 128, 64),
    ("small_odd", 2, 2, 1, 17, 63, 40, 24),
)
FULLY_MASKED_CANDIDATES = ((40, 17), (17, 40), (33, 33), (9, 64), (64, 9), (8, 8))
GRADCHECK_CASE = ("tiny", 1, 2, 1, 6, 9, 4, 3)


@dataclass(frozen=True)
class ParamChoice:
    name: str
    value: object
    note: str  # why it is not the spec's default; "" when it is


@dataclass(frozen=True)
class InputChoice:
    name: str
    dtype: str  # torch dtype expression
    code: str  # the expression that makes it, over the locals of `input_values`
    why: str


def cross_allowed(spec: ir.Spec) -> bool:
    """Whether the checks may use N != M for `spec`."""
    if spec.is_linear and is_causal_mask(spec.mask):
        return False
    for expr in _expressions(spec):
        for load in ir.loads(expr):
            dims = spec.input(load.input).dims
            for index, dim in zip(load.indices, dims):
                used, sized = ir.free_vars(index), ir.free_vars(dim)
                if ("j" in used and "N" in sized and "M" not in sized) or \
                        ("i" in used and "M" in sized and "N" not in sized):
                    return False
    return True


def choose_params(spec: ir.Spec, given: dict) -> list[ParamChoice]:
    """Each param's value in the checks, with the reason where it is not the default."""
    out = []
    for p in spec.params:
        if p.name in given:
            note = "" if given[p.name] == p.default else "given"
            out.append(ParamChoice(p.name, given[p.name], note))
        elif p.default is None:
            out.append(ParamChoice(p.name, REQUIRED_PARAM_VALUES[p.type], "required, no default: a plain value"))
        elif p.type == ir.INT and abs(p.default) > MAX_INT_PARAM:
            value = MAX_INT_PARAM if p.default > 0 else -MAX_INT_PARAM
            out.append(ParamChoice(p.name, value, f"default {p.default} is beyond the check's lengths"))
        else:
            out.append(ParamChoice(p.name, p.default, ""))
    return out


def choose_inputs(spec: ir.Spec, given: dict) -> list[InputChoice]:
    """How `input_values` in the test file makes each input (see the module docstring)."""
    scalar = ScalarPrinter()
    index_bounds: dict[str, list[str]] = {}
    compared: set[str] = set()
    positive: set[str] = set()
    for expr in _expressions(spec):
        for node in ir.walk(expr):
            if isinstance(node, ir.Load):
                for index, dim in zip(node.indices, spec.input(node.input).dims):
                    for inner in ir.loads(index):
                        index_bounds.setdefault(inner.input, []).append(scalar(dim))
            elif isinstance(node, ir.Op) and node.op in ("eq", "ne"):
                compared.update(load.input for arg in node.args for load in ir.loads(arg))
            if isinstance(node, ir.Op) and node.op in _POSITIVE_ARGS:
                positive.update(load.input for k in _POSITIVE_ARGS[node.op] for load in ir.loads(node.args[k]))
    if spec.norm.kind == "sum":
        positive.update(load.input for load in ir.loads(spec.score))
    in_decay = {load.input for load in ir.loads(spec.decay)} if spec.decay is not None else set()

    out = []
    for x in spec.inputs:
        dims = [scalar(d) for d in x.dims]
        shape = "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
        dtype = _TORCH_DTYPE[x.dtype]
        flag = ", sorted=True" if x.sorted else ""
        if x.name in given:
            code, why = _given_code(given[x.name], x, shape, dtype, flag), "given"
        elif x.type == ir.BOOL:
            code, why = f"_bools({shape}, _g)", "random true/false"
        elif x.type == ir.INT:
            bounds = sorted(set(index_bounds.get(x.name, ())))
            if bounds:
                high = bounds[0] if len(bounds) == 1 else f"min({', '.join(bounds)})"
                code, why = f"_ints({shape}, 0, {high}, _g, {dtype}{flag})", "indexes another input: inside its dim"
            elif x.sorted:
                code, why = f"_document_ids({shape}, _g, {dtype})", "sorted: ids of documents of differing lengths"
            elif x.name in compared:
                code, why = f"_ints({shape}, 0, 4, _g, {dtype})", "compared for equality: small ids"
            else:
                code, why = f"_ints({shape}, 0, max(2, min(N, M) // 2), _g, {dtype})", "up to half the length"
        elif x.name in positive:
            code, why = f"_uniform({shape}, 0.5, 1.5, _g{flag})", "positive (a log, root, power, divisor or norm = sum)"
        elif x.name in in_decay:
            code, why = f"_uniform({shape}, 0.5, 0.95, _g{flag})", "in the decay: in (0, 1)"
        else:
            code, why = f"_normal({shape}, 0.5, _g{flag})", "normal, std 0.5"
        out.append(InputChoice(x.name, dtype, code, why))
    return out


def _given_code(values: InputValues, x: ir.Input, shape: str, dtype: str, flag: str) -> str:
    if values.fill is not None:
        return f"_full({shape}, {python_literal(values.fill)}, {dtype if x.type != ir.FLOAT else 'torch.float64'})"
    if x.type == ir.INT:
        return f"_ints({shape}, {values.low}, {values.high}, _g, {dtype}{flag})"
    return f"_uniform({shape}, {python_literal(values.low)}, {python_literal(values.high)}, _g{flag})"


def _expressions(spec: ir.Spec) -> list[ir.Expr]:
    exprs = [spec.mask, spec.score, spec.scale, spec.feature, spec.decay, spec.norm.sink]
    return [e for e in exprs if e is not None]


TAYLOR2_MAX_D = 16  # taylor2's state has 1 + D + D*D rows; BASED uses D = 16


def _cases(table, cross: bool, max_d: Optional[int] = None) -> list[tuple]:
    return [(name, B, H, HKV, N, M if cross else N, min(D, max_d or D), DV)
            for name, B, H, HKV, N, M, D, DV in table]


def tests_context(spec: ir.Spec, module_file: str, test_file: str, backend: str,
                  values: Optional[CheckValues] = None, strict: bool = True) -> dict:
    """What templates/test_module.py.jinja needs (raises CheckValuesError for bad values)."""
    given_params, given_inputs = resolve(spec, values or CheckValues(), strict)
    cross = cross_allowed(spec)
    lse = not spec.is_linear and spec.norm.kind == "softmax"
    stem = re.sub(r"\W", "_", module_file.rsplit("/", 1)[-1].removesuffix(".py"))
    candidates = [(n, m) for n, m in FULLY_MASKED_CANDIDATES if cross or n == m]
    max_d = TAYLOR2_MAX_D if spec.is_linear and spec.is_taylor2 else None
    context = {
        "version": __version__,
        "spec_name": spec.name,
        "spec_hash": spec.source_hash,
        "backend": backend,
        "module_file": module_file,
        "test_file": test_file,
        "module_import_name": f"_attncc_checked_{stem}",
        "family": "linear" if spec.is_linear else "softmax",
        "norm_kind": spec.norm.kind,
        "lse": lse,
        "learnable": [x.name for x in spec.learnable_inputs],
        "params": choose_params(spec, given_params),
        "inputs": choose_inputs(spec, given_inputs),
        "cross": cross,
        "positive_qk": spec.is_linear and spec.norm.kind == "sum",
        "cpu_cases": _cases(CPU_CASES, cross, max_d),
        "gpu_cases": _cases(GPU_CASES, cross, max_d),
        "fully_masked_candidates": [("fully_masked", 2, 2, 1, n, m, 16, 16) for n, m in candidates],
        "gradcheck_case": _cases([GRADCHECK_CASE], cross)[0],
        "size_names": ir.SIZE_SYMBOLS,
    }
    context.update(torch_context(spec))
    return context


def render_tests(spec: ir.Spec, module_file: str, test_file: str, backend: str,
                 values: Optional[CheckValues] = None, strict: bool = True) -> str:
    """The generated test file's source. `module_file`: the module's path relative to the test
    file's folder, with '/' separators."""
    context = tests_context(spec, module_file, test_file, backend, values, strict)
    return environment().get_template("test_module.py.jinja").render(**context)
