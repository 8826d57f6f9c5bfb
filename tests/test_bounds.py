"""bounds.prove_reads: proofs that input reads stay in bounds where the mask holds, warnings
(with line, column and a hint) where they cannot be proved, and a brute-force check that what
it proves is true on small grids."""

import itertools
import random
from pathlib import Path

import pytest

from attncc import ir
from attncc.symbolic.bounds import prove_reads
from attncc.language.elaborate import elaborate
from attncc.ir.constfold import ConstFoldError, evaluate
from attncc.language.parser import parse

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.attn"))


def make_spec(src):
    return elaborate(parse(src, "t.attn"), src, "t.attn")


PROVED = {
    "rpb1d": "param radius: int = 3\ninput rpb[H, 2 * radius + 1] learnable\nmask = abs(i - j) <= radius\n"
             "score = s + rpb[h, j - i + radius]\n",
    "alibi": "input slopes[H]\nmask = j <= i\nscore = s - slopes[h] * (i - j)\n",
    "key_bias": "input bias[H, M] learnable\nscore = s + bias[h, j]\n",
    "document_causal": "input doc[B, N]: int32 sorted\nmask = doc[b, i] == doc[b, j] and j <= i\n",
    "per_head_window": "input windows[H]: int32\nmask = j <= i and i - j < windows[h]\n",
    "rpb2d_radius": "param width: int = 5\nparam radius: int = 2\nlet qy = i // width\nlet qx = i % width\n"
                    "let ky = j // width\nlet kx = j % width\ninput rpb[H, 2 * radius + 1, 2 * radius + 1] learnable\n"
                    "mask = abs(qy - ky) <= radius and abs(qx - kx) <= radius\n"
                    "score = s + rpb[h, qy - ky + radius, qx - kx + radius]\n",
    "rpb2d_windows": "param width: int = 6\nparam window: int = 3\nlet qy = i // width\nlet qx = i % width\n"
                     "let ky = j // width\nlet kx = j % width\ninput rpb[H, 2 * window - 1, 2 * window - 1] learnable\n"
                     "mask = qy // window == ky // window and qx // window == kx // window\n"
                     "score = s + rpb[h, qy - ky + window - 1, qx - kx + window - 1]\n",
    "chained": "param w: int = 3\ninput t[2 * w]\nmask = 0 <= i - j < w\nscore = s + t[i - j + w]\n",
    "sink": "input sinks[H] learnable\nmask = j <= i\nnorm = softmax(sink = sinks[h])\n",
    "sink_row": "input rows[N]\nnorm = softmax(sink = rows[i])\n",
    "where_guard": "input t[N]\nscore = s + where(j < N, t[j], 0.0)\n",
    "or_cases": "input img[B, N]: bool\nmask = j <= i or (img[b, i] and img[b, j])\n",
    "modulo": "param width: int = 4\ninput col[H, width]\nscore = s + col[h, j % width]\n",
    "not_gt": "input t[N]\nmask = not (j > i)\nscore = s + t[j]\n",
    "decaying": "input gamma[H]\nfeature = x\ndecay = gamma[h]\nmask = j <= i\nnorm = none\n",
    "nested": "input idx[M]: int32\ninput t[H, M]\nmask = j <= i\nscore = s + t[h, idx[j] * 0 + j]\n",
}

WARNED = {
    "shifted": ("input t[H]\nscore = s + t[h + 1]\n", [(3, 13, "index 1 of 't' (h + 1) stays in [0, H)")]),
    "wrong_dim": ("input bias[H, N]\nscore = s + bias[h, j]\n", [(3, 13, "index 2 of 'bias' (j) stays in [0, N)")]),
    "no_offset": ("param radius: int = 4\ninput rpb[H, 2 * radius + 1]\nmask = abs(i - j) <= radius\n"
                  "score = s + rpb[h, j - i]\n", [(5, 13, "index 2 of 'rpb' (j - i) stays in [0, 2 * radius + 1)")]),
    "own_conjunct": ("input t[N]: int32\nmask = t[j] == 0\n", [(3, 8, "index 1 of 't' (j) stays in [0, N)")]),
    "sink_uses_no_mask": ("input t[N]\nmask = i >= 1\nnorm = softmax(sink = t[i - 1])\n",
                          [(4, 23, "index 1 of 't' (i - 1) stays in [0, N) for every row")]),
    "two_reads": ("input t[N]\ninput u[H]\nmask = j <= i\nscore = s + t[j + 1] * u[h - 1]\n",
                  [(5, 13, "index 1 of 't' (j + 1)"), (5, 24, "index 1 of 'u' (h - 1)")]),
    "where_other_branch": ("input t[N]\nscore = s + where(j < N, 0.0, t[j])\n", [(3, 31, "index 1 of 't' (j)")]),
}


@pytest.mark.parametrize("name", sorted(PROVED))
def test_proved_reads_give_no_warning(name):
    assert prove_reads(make_spec(f"attention {name}\n" + PROVED[name])) == []


@pytest.mark.parametrize("name", sorted(WARNED))
def test_unprovable_reads_warn_with_position(name):
    body, expected = WARNED[name]
    warnings = prove_reads(make_spec(f"attention {name}\n" + body))
    assert [(w.line, w.col) for w in warnings] == [(line, col) for line, col, _ in expected]
    for w, (_, _, text) in zip(warnings, expected):
        assert w.severity == "warning"
        assert text in w.message and w.message.startswith("cannot prove that index")
        assert w.hint and "0" in w.hint


def test_warning_message_and_hint_text():
    (w,) = prove_reads(make_spec("attention t\nparam radius: int = 4\ninput rpb[H, 2 * radius + 1]\n"
                                 "mask = abs(i - j) <= radius\nscore = s + rpb[h, j - i]\n"))
    assert w.message == ("cannot prove that index 2 of 'rpb' (j - i) stays in [0, 2 * radius + 1) "
                         "where the mask holds")
    assert "j - i >= 0" in w.hint


def test_examples_run_and_rpb_examples_are_proved():
    for path in EXAMPLES:
        spec = elaborate(parse(path.read_text(), str(path)), path.read_text(), str(path))
        warnings = prove_reads(spec)
        assert all(w.severity == "warning" and w.line >= 1 for w in warnings)
        if path.stem in ("rpb1d", "rpb2d", "alibi", "key_bias", "document_causal", "per_head_window",
                         "softmax_sink", "temperature", "duo_heads", "token_type"):
            assert warnings == [], (path.stem, [w.message for w in warnings])


# ---------------------------------------------------------------- soundness on small grids

def guarded(name, dims, dtype, seed):
    """An input as the generated code reads it: pseudo-random inside, 0 / false outside."""
    def read(*index):
        if any(not 0 <= k < d for k, d in zip(index, dims)):
            return False if dtype == ir.BOOL else 0
        r = random.Random(f"{name}:{seed}:{index}")
        if dtype == ir.BOOL:
            return r.random() < 0.5
        if dtype == ir.INT:
            return r.randint(0, 2) + index[-1] // 3
        return r.uniform(-1.0, 1.0)
    return read


def in_bounds(spec, expr, env):
    """Whether every read whose value counts (the taken branch of a where) is in bounds."""
    if isinstance(expr, ir.Load):
        dims = [evaluate(d, env) for d in spec.input(expr.input).dims]
        index = [evaluate(x, env) for x in expr.indices]
        if any(not 0 <= k < d for k, d in zip(index, dims)):
            return False
        return all(in_bounds(spec, x, env) for x in expr.indices)
    if isinstance(expr, ir.Op):
        if expr.op == "where":
            cond, yes, no = expr.args
            return in_bounds(spec, cond, env) and in_bounds(spec, yes if evaluate(cond, env) else no, env)
        return all(in_bounds(spec, x, env) for x in expr.args)
    return True


def unwarned_specs():
    out = [(p.stem, p.read_text()) for p in EXAMPLES]
    out += [(name, f"attention {name}\n" + body) for name, body in PROVED.items()]
    return out


@pytest.mark.parametrize("name,src", unwarned_specs(), ids=[n for n, _ in unwarned_specs()])
def test_what_is_proved_holds_on_small_grids(name, src):
    spec = make_spec(src)
    if prove_reads(spec):
        pytest.skip("warned: nothing proved to check")
    rng = random.Random(0)
    params = {p.name: (p.default if p.default is not None else {ir.INT: 3, ir.FLOAT: 0.5, ir.BOOL: True}[p.type])
              for p in spec.params}
    for N, M in ((9, 9), (6, 11), (11, 5)):
        sizes = {"B": 2, "H": 3, "HKV": 1, "N": N, "M": M, "D": 4, "DV": 4}
        env = {**sizes, **params, "s": 0.3, "x": 0.3}
        try:
            dims = {x.name: [evaluate(d, env) for d in x.dims] for x in spec.inputs}
        except ConstFoldError:
            continue
        if any(d < 0 for ds in dims.values() for d in ds):
            continue
        seed = rng.random()
        env.update({x.name: guarded(x.name, dims[x.name], x.type, seed) for x in spec.inputs})
        for b, h, i in itertools.product(range(2), range(3), range(N)):
            row = {**env, "b": b, "h": h, "i": i}
            if spec.norm.sink is not None:
                assert in_bounds(spec, spec.norm.sink, row), (b, h, i)
            if spec.decay is not None:
                assert in_bounds(spec, spec.decay, row)
            for j in range(M):
                point = {**row, "j": j}
                try:
                    allowed = evaluate(spec.mask, point)
                except ConstFoldError:
                    continue
                if allowed:
                    assert in_bounds(spec, spec.mask, point), (N, M, b, h, i, j)
                    if not spec.is_linear:
                        assert in_bounds(spec, spec.score, point), (N, M, b, h, i, j)
