"""The symbolic middle: IR <-> sympy, simplification that keeps the meaning, the printer's round
trip, and derivatives checked against finite differences. The oracle is `constfold.evaluate`."""

import math
import os
import random
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from attncc import ir
from attncc.language.elaborate import elaborate
from attncc.ir.constfold import ConstFoldError, evaluate
from attncc.symbolic.derive import SCORE, derive
from attncc.language.parser import parse
from attncc.language.formatting import format_expr
from attncc.symbolic.simplify import fold_constants, from_sympy, simplify, simplify_spec, size, to_sympy
from attncc.ir.typing_rules import result_type

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.attn"))

HEADER = """attention t
param cap: float = 30.0
param window: int = 8
param radius: int = 2
param width: int = 4
param flag: bool = true
input slopes[H]
input alpha[H] learnable
input rpb[H, 2 * radius + 1] learnable
input bias[H, M] learnable
input doc[B, N]: int32
input img[B, N]: bool
"""

SCORES = [
    "cap * tanh(s / cap)", "s - slopes[h] * (i - j)", "s + rpb[h, j - i + radius]", "s * (1 + alpha[h] * log(1 + i))",
    "sigmoid(s - log(M))", "sigmoid(s + bias[h, j])", "softplus(s)", "relu(s) ** 2 / M", "elu(s) + 1", "silu(s)",
    "gelu(s)", "where(j <= i, s, s / 2)", "exp2(s) + log2(abs(s) + 1)", "clamp(s, -1, 2)", "min(s, 1) + max(s, alpha[h])",
    "abs(s) * 0.5 + s", "sqrt(s * s + 1) + rsqrt(s * s + 2)", "log1p(exp(s)) - s", "s * s * s / 6 + s ** 2",
    "sin(s) * cos(s) + erf(s)", "pow(2, s / 4) + sign(s) * s", "s + 0 * s + 1.0 - 1.0", "-(-s)", "s / cap / cap",
    "where(flag and img[b, i], s + alpha[h], -s)", "s * exp(-(i - j) * 0.1)", "s + floor(s) - ceil(s)",
    "(s + 1) * (s - 1) - s * s", "s + where(doc[b, i] == doc[b, j], 0.0, -inf)",
    "s + floor(2 * s) - ceil(s / 3 + 1)", "sign(3 * s) * s", "min(where(img[b, i], h, s), j) + s",
    "elu(where(img[b, i], alpha[h], s)) + relu(where(flag, s, -s))",
]
MASKS = [
    "j <= i", "j <= i and i - j < window", "abs(i - j) <= radius", "j // width <= i // width",
    "j <= i and (j < 4 or i - j < window)", "not (j > i) or i % 3 == j % 3", "(i == j) == (i < 3)",
    "doc[b, i] == doc[b, j] and j <= i", "j <= i or (img[b, i] and img[b, j])", "flag != (j < i)",
    "-7 // 2 <= j - i and (j - i) % -3 != 1 and (i - 2 * j) // 4 >= -2", "i + 1 - 1 >= j + 0 and true",
    "max(i, j) - min(i, j) < clamp(window, 1, 5)", "where(i > 3, j < i, j == 0)", "i * i >= j * (j + 1) - j",
    "j - where(img[b, i], i, j // 2) < 3",
]
FEATURES = ["elu(x) + 1", "relu(x)", "exp(x)", "silu(x)", "taylor2(x)", "taylor2(x * 0.5 + 1)", "x"]


def make_spec(src):
    return elaborate(parse(src, "t.attn"), src, "t.attn")


def inline_specs():
    out = [HEADER + f"score = {score}\n" for score in SCORES]
    out += [HEADER + f"mask = {mask}\n" for mask in MASKS]
    out += [HEADER + "mask = j <= i\nnorm = softmax(sink = alpha[h] * 2 + slopes[h] - log(1.0 + h))\n"]
    out += [HEADER + "scale = 1 / sqrt(D) * 2 / 2\n"]
    out += [f"attention f\nfeature = {f}\nnorm = sum\n" for f in FEATURES]
    out += ["attention r\nfeature = x\ndecay = 1 - 2 ** (-5 - h)\nmask = j <= i\nnorm = none\n"]
    return out


ALL = [(p.stem, p.read_text()) for p in EXAMPLES] + [(f"inline{k}", s) for k, s in enumerate(inline_specs())]
IDS = [name for name, _ in ALL]


# ---------------------------------------------------------------- random points

def table(name, seed, dtype):
    """A deterministic pseudo-random input: a callable from indices to a value."""
    def read(*index):
        r = random.Random(f"{name}:{seed}:{index}")
        if dtype == ir.BOOL:
            return r.random() < 0.5
        if dtype == ir.INT:
            return r.randint(-2, 3)
        return r.uniform(-2.0, 2.0)
    return read


def random_env(spec, rng):
    env = {k: rng.randint(1, 24) for k in ir.SIZE_SYMBOLS}
    env.update(i=rng.randrange(env["N"]), j=rng.randrange(env["M"]), b=rng.randrange(env["B"]),
               h=rng.randrange(env["H"]), s=rng.gauss(0.0, 2.0), x=rng.gauss(0.0, 2.0))
    for p in spec.params:
        env[p.name] = {ir.INT: lambda: rng.choice([-3, -1, 1, 2, 3, 4, 7]),
                       ir.FLOAT: lambda: rng.choice([-1, 1]) * rng.uniform(0.3, 40.0),
                       ir.BOOL: lambda: rng.random() < 0.5}[p.type]()
    seed = rng.random()
    for x in spec.inputs:
        env[x.name] = table(x.name, seed, x.type)
    return env


def close(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def assert_same_meaning(original, simplified, spec, points=200, seed=0):
    rng = random.Random(seed)
    checked = 0
    for _ in range(points):
        env = random_env(spec, rng)
        try:
            want = evaluate(original, env)
        except (ConstFoldError, TypeError):  # the original fails here (e.g. // 0): nothing to compare
            continue
        got = evaluate(simplified, env)
        assert close(want, got), f"{format_expr(original)} != {format_expr(simplified)} at {env}: {want} vs {got}"
        checked += 1
    assert checked >= points // 4


def assert_well_typed(expr):
    for node in ir.walk(expr):
        if isinstance(node, ir.Op):
            assert node.op in ir.OPS
            assert result_type(node.op, tuple(a.type for a in node.args)) == node.type, node
        elif isinstance(node, ir.Load):
            assert all(x.type == ir.INT for x in node.indices)


def spec_exprs(spec):
    out = {"mask": spec.mask, "scale": spec.scale}
    if spec.is_linear:
        out["feature"] = spec.feature.args[0] if spec.is_taylor2 else spec.feature
        if spec.decay is not None:
            out["decay"] = spec.decay
    else:
        out["score"] = spec.score
        if spec.norm.sink is not None:
            out["sink"] = spec.norm.sink
    for x in spec.inputs:
        for k, d in enumerate(x.dims):
            out[f"{x.name}.dim{k}"] = d
    return out


# ---------------------------------------------------------------- simplification

@pytest.mark.parametrize("name,src", ALL, ids=IDS)
def test_simplify_spec_keeps_meaning_types_and_size(name, src):
    spec = make_spec(src)
    simple = simplify_spec(spec)
    before, after = spec_exprs(spec), spec_exprs(simple)
    assert before.keys() == after.keys()
    for key in before:
        assert after[key].type == before[key].type, key
        assert_well_typed(after[key])
        assert size(after[key]) <= size(fold_constants(before[key])), key
        assert_same_meaning(before[key], after[key], spec)
    assert simple.is_taylor2 == spec.is_taylor2


def test_simplify_folds_and_canonicalises():
    spec = make_spec(HEADER + "score = s + 0 * s + 1.0 - 1.0 + 2 * (i - j) - 2 * i\nmask = i + 1 - 1 >= j + 0 and true\n")
    assert format_expr(simplify(spec.score)) == "s - 2 * j"
    assert format_expr(simplify(spec.mask)) == "j <= i"
    assert simplify(make_spec(HEADER + "scale = 2.0 * 3\n").scale) == ir.Const(6.0, ir.FLOAT)
    assert simplify(make_spec(HEADER + "score = (s + 1) * (s - 1) - s * s\n").score) == ir.Const(-1.0, ir.FLOAT)


def test_round_trip_types():
    spec = make_spec(HEADER + "mask = j <= i\n")
    i, j, s = ir.Var("i", ir.INT, "index"), ir.Var("j", ir.INT, "index"), ir.Var("s", ir.FLOAT, "score")
    w = ir.Var("width", ir.INT, "param")
    op = lambda name, *a: ir.Op(name, a, result_type(name, tuple(x.type for x in a)))  # noqa: E731
    cases = [op("floordiv", i, w), op("mod", op("sub", i, j), w), op("floor", s), op("div", i, ir.Const(2, ir.INT)),
             op("relu", op("sub", i, j)), op("abs", s), op("where", op("lt", i, j), ir.Const(1, ir.INT), i),
             op("ceil", op("div", i, w)), op("min", i, j), op("clamp", i, ir.Const(0, ir.INT), w),
             op("sign", op("sub", i, j)), op("exp2", i), op("log2", s), op("log1p", s), op("rsqrt", w),
             ir.Load("doc", (ir.Var("b", ir.INT, "index"), op("add", i, ir.Const(1, ir.INT))), ir.INT),
             op("and", op("eq", op("lt", i, j), op("gt", i, w)), op("not", op("ne", i, j)))]
    for expr in cases:
        back = from_sympy(to_sympy(expr))
        assert back.type == expr.type, format_expr(expr)
        assert_well_typed(back)
        assert_same_meaning(expr, back, spec, points=60)


def test_simplify_is_fast():
    for _, src in ALL:
        spec = make_spec(src)
        for key, expr in spec_exprs(spec).items():
            start = time.perf_counter()
            simplify(expr)
            assert time.perf_counter() - start < 0.5, key


def _dump_simplified():
    lines = []
    for _, src in ALL:
        simple = simplify_spec(make_spec(src))
        lines += [f"{k} = {format_expr(v)}" for k, v in spec_exprs(simple).items()]
    return "\n".join(lines)


def test_simplify_is_deterministic_across_processes():
    code = "import sys; sys.path.insert(0, 'tests'); import test_symbolic as t; print(t._dump_simplified())"
    outputs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outputs.add(subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                                   check=True).stdout)
    outputs.add(_dump_simplified() + "\n")
    assert len(outputs) == 1


# ---------------------------------------------------------------- the printer

def restate(spec, exprs):
    """Source text for `spec` with its expressions replaced by `exprs` printed by format_expr."""
    lines = [f"attention {spec.name}"]
    lines += [f"param {p.name}: {p.type}" for p in spec.params]
    lines += [f"input {x.name}[{', '.join(format_expr(d) for d in x.dims)}]: {x.dtype}" for x in spec.inputs]
    if exprs["mask"] != ir.TRUE:
        lines.append(f"mask = {format_expr(exprs['mask'])}")
    if spec.is_linear:
        feature = format_expr(exprs["feature"])
        lines.append(f"feature = {'taylor2(' + feature + ')' if spec.is_taylor2 else feature}")
        if "decay" in exprs:
            lines.append(f"decay = {format_expr(exprs['decay'])}")
        lines.append(f"norm = {spec.norm.kind}")
    else:
        lines.append(f"score = {format_expr(exprs['score'])}")
        lines.append(f"scale = {format_expr(exprs['scale'])}")
        if "sink" in exprs:
            lines.append(f"norm = softmax(sink = {format_expr(exprs['sink'])})")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name,src", ALL, ids=IDS)
def test_format_expr_parses_back_to_the_same_meaning(name, src):
    spec = make_spec(src)
    for version in (spec, simplify_spec(spec)):
        exprs = spec_exprs(version)
        again = spec_exprs(make_spec(restate(spec, exprs)))
        again.setdefault("mask", ir.TRUE)
        for key in exprs:
            assert_same_meaning(exprs[key], again[key], spec, points=60)


def test_format_expr_precedence():
    spec = make_spec(HEADER + "score = -s ** 2 + (2 - s) * -(s - 1) / (s * s) - 2 ** -s + (-2) ** 2\n"
                              "mask = not (i < j or j == 0) and (i < j) == (j < 3)\n")
    assert format_expr(spec.score) == "-s ** 2 + (2 - s) * -(s - 1) / (s * s) - 2 ** -s + (-2) ** 2"
    assert format_expr(spec.mask) == "not (i < j or j == 0) and (i < j) == (j < 3)"


# ---------------------------------------------------------------- derivatives

def substitute(expr, target, replacement):
    if expr == target:
        return replacement
    if isinstance(expr, ir.Op):
        return replace(expr, args=tuple(substitute(a, target, replacement) for a in expr.args))
    if isinstance(expr, ir.Load):
        return replace(expr, indices=tuple(substitute(a, target, replacement) for a in expr.indices))
    return expr


def assert_derivative(f, df, var_name, env, extra=None):
    """df == d f / d var at env (central differences; points next to a kink are skipped)."""
    x0 = env[var_name]
    step = 1e-6 * max(1.0, abs(x0))
    at = lambda x, e=f: evaluate(e, {**env, var_name: x, **(extra(x) if extra else {})})  # noqa: E731
    try:
        numeric = (at(x0 + step) - at(x0 - step)) / (2 * step)
        exact = at(x0, df)
        near = [at(x0 + d * 1e-3 * max(1.0, abs(x0)), df) for d in (-1, 1)]
    except (ConstFoldError, OverflowError):
        return False
    if not math.isfinite(numeric) or any(not math.isclose(v, exact, rel_tol=1e-2, abs_tol=1e-2) for v in near):
        return False  # a kink of f nearby
    assert math.isclose(numeric, exact, rel_tol=1e-5, abs_tol=1e-5), (format_expr(f), format_expr(df), env)
    return True


DERIVATIVE_SPECS = [(n, s) for n, s in ALL if "score" in s or "feature" in s or "sink" in s]


@pytest.mark.parametrize("name,src", DERIVATIVE_SPECS, ids=[n for n, _ in DERIVATIVE_SPECS])
def test_derivatives_match_finite_differences(name, src):
    spec = make_spec(src)
    d = derive(spec)
    rng = random.Random(1)
    checked = 0
    score = simplify(spec.score)
    for _ in range(40):
        env = random_env(spec, rng)
        if spec.is_linear:
            g = spec.feature.args[0] if spec.is_taylor2 else spec.feature
            checked += assert_derivative(g, d.dfeature_dx, "x", env)
            continue
        checked += assert_derivative(spec.score, d.dscore_ds, "s", env)
        if d.dscore_ds_from_score is not None:
            assert SCORE.name in ir.free_vars(d.dscore_ds_from_score)
            try:
                value = evaluate(spec.score, env)
            except ConstFoldError:
                continue
            assert close(evaluate(d.dscore_ds_from_score, {**env, "score": value}), evaluate(d.dscore_ds, env))
        assert {load for load, _ in d.dscore_dloads} == {x for x in ir.loads(score) if x.type == ir.FLOAT}
        for parts, expr in ((d.dscore_dloads, score), (d.dsink_dloads, simplify(spec.norm.sink or ir.TRUE))):
            for load, dload in parts:
                var = ir.Var("_read", ir.FLOAT, "param")
                base = evaluate(load, env)
                env2 = {**env, "_read": base}
                assert_derivative(substitute(expr, load, var), substitute(dload, load, var), "_read", env2)
    assert checked >= 5


def test_derivative_forms():
    d = derive(make_spec(HEADER + "score = cap * tanh(s / cap)\n"))
    assert format_expr(d.dscore_ds) == "1 - tanh(s / cap) ** 2"
    assert format_expr(d.dscore_ds_from_score) == "1 - score * score / (cap * cap)"
    d = derive(make_spec(HEADER + "score = sigmoid(s + bias[h, j])\n"))
    assert format_expr(d.dscore_ds_from_score) == "score * (1 - score)"
    d = derive(make_spec(HEADER + "score = s - slopes[h] * (i - j)\n"))
    assert d.dscore_ds == ir.Const(1.0, ir.FLOAT) and d.dscore_ds_from_score is None
    assert [(format_expr(a), format_expr(b)) for a, b in d.dscore_dloads] == [("slopes[h]", "j - i")]
    d = derive(make_spec(HEADER + "score = s + rpb[h, j - i + radius]\nnorm = softmax(sink = alpha[h])\n"))
    assert [(format_expr(a), format_expr(b)) for a, b in d.dscore_dloads] == [("rpb[h, radius + j - i]", "1.0")]
    assert [(format_expr(a), format_expr(b)) for a, b in d.dsink_dloads] == [("alpha[h]", "1.0")]
    d = derive(make_spec("attention f\nfeature = taylor2(silu(x))\nnorm = sum\n"))
    assert d.dscore_ds is None and d.dfeature_dx is not None
