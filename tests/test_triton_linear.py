"""Linear attention's chunked Triton kernels (interpreted) against the float64 torch reference.

TESTING.md's rule for o and the gradients of q, k, v, in float32 and float16, for every linear
example the triton backend builds and for specs that add what the gallery lacks (a decay read
from an input with norm = sum, a constant decay, a feature map with a param): lengths that are
not multiples of the chunk, chunks of 16, 32 and 64, GQA, D != DV, N != M without the causal
mask. float64 gradcheck runs on the interpreted kernels, through the initial and the final state
too; a prefill followed by steps equals one full causal call.
"""

from __future__ import annotations

import pytest
import torch

from attncc.driver.pipeline import compile_source, front_end
from conftest import EXAMPLES
from support.reference_rule import assert_matches_reference, module

LINEAR = [p for p in EXAMPLES if front_end(p.read_text(), str(p)).is_linear]
DECAYED_SUM = ("attention decayed_sum\ninput gam[H]\nfeature = elu(x) + 1\ndecay = gam[h]\nmask = j <= i\n"
               "norm = sum\ntile chunk = {chunk}\n")
# The rule's helper draws inputs from a normal; a gate keeps this decay in (0.5, 1).
GATED_SUM = DECAYED_SUM.replace("decay = gam[h]", "decay = 0.5 + 0.5 * sigmoid(gam[h])")
CONSTANT_DECAY = "attention constant_decay\nfeature = relu(x)\ndecay = 0.8\nmask = j <= i\nnorm = none\n"
PARAM_FEATURE = "attention param_feature\nparam t: float = 0.7\nfeature = exp(t * x)\nnorm = sum\n"
LEARNED_DECAY = ("attention learned_decay\ninput g[H] learnable\nfeature = elu(x) + 1\ndecay = sigmoid(g[h])\n"
                 "mask = j <= i\nnorm = sum\ntile chunk = 16\n")
LEARNED_TAYLOR = ("attention learned_taylor\ninput g[H] learnable\nfeature = taylor2(tanh(x))\n"
                  "decay = 0.5 + 0.5 * sigmoid(g[h])\nmask = j <= i\nnorm = none\ntile chunk = 16\n")
TAYLOR_DENSE = "attention taylor_dense\nfeature = taylor2(0.5 * x)\nnorm = sum\n"
TAYLOR_DECAY = ("attention taylor_decay\ninput gam[H]\nfeature = taylor2(tanh(x))\ndecay = 0.5 + 0.5 * sigmoid(gam[h])\n"
                "mask = j <= i\nnorm = none\ntile chunk = 16\n")

# (B, H, HKV, N, M, D, DV); M is N for causal specs.
SHAPES = [(1, 2, 1, 37, 37, 16, 8), (2, 4, 2, 100, 100, 32, 24), (1, 2, 2, 1, 1, 16, 16), (1, 2, 1, 129, 129, 40, 40)]
CROSS = [(1, 2, 1, 37, 70, 16, 8), (2, 4, 2, 65, 17, 24, 32)]


def _triton_built(path):
    return compile_source(path.read_text(), str(path), "triton").backend == "triton"


@pytest.mark.parametrize("path", [p for p in LINEAR if _triton_built(p)], ids=lambda p: p.stem)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=str)
def test_linear_examples(path, dtype):
    spec = front_end(path.read_text(), str(path))
    shapes = SHAPES + ([] if "mask" in path.read_text() else CROSS)
    if dtype == torch.float16:
        # One row: each fp16 output is a single rounding on both sides, and the rule's factor 2
        # over the reference's own rounding holds for the maximum over many values, not for a few.
        shapes = [shape for shape in shapes if shape[3] > 1]
    for index, shape in enumerate(shapes):
        assert_matches_reference(str(path), spec, shape, dtype, {}, seed=index)


@pytest.mark.parametrize("chunk", [16, 32, 64])
def test_decay_from_an_input_with_norm_sum_at_every_chunk(chunk):
    source = GATED_SUM.format(chunk=chunk)
    spec = front_end(source)
    for index, shape in enumerate(SHAPES[:2] + [(1, 2, 1, 129, 129, 16, 16)]):
        assert_matches_reference(source, spec, shape, torch.float32, {}, seed=index)


@pytest.mark.parametrize("source", [CONSTANT_DECAY, PARAM_FEATURE, TAYLOR_DENSE, TAYLOR_DECAY, LEARNED_DECAY, LEARNED_TAYLOR],
                         ids=["constant_decay", "param_feature", "taylor_dense", "taylor_decay", "learned_decay",
                              "learned_taylor"])
def test_constant_decay_feature_params_taylor2_and_learnable_decays(source):
    spec = front_end(source)
    shapes = [SHAPES[0], SHAPES[3]] + ([] if spec.decay is not None else CROSS)
    for index, shape in enumerate(shapes):
        assert_matches_reference(source, spec, shape, torch.float32, {"t": 0.7} if spec.params else {}, seed=index)


def _qkv(B, H, HKV, N, M, D, DV, seed=0, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, N, D, generator=g, dtype=torch.float64) * 0.5 + shift
    k = torch.randn(B, HKV, M, D, generator=g, dtype=torch.float64) * 0.5 + shift
    v = torch.randn(B, HKV, M, DV, generator=g, dtype=torch.float64)
    return q, k, v


@pytest.mark.parametrize("source,inputs", [
    (DECAYED_SUM.format(chunk=16), {"gam": torch.tensor([0.9, 0.6], dtype=torch.float64)}),
    (PARAM_FEATURE, {}),
    (CONSTANT_DECAY, {}),
    (TAYLOR_DENSE, {}),
    (TAYLOR_DECAY, {"gam": torch.tensor([0.3, -1.0], dtype=torch.float64)}),
], ids=["decayed_sum", "param_feature", "constant_decay", "taylor_dense", "taylor_decay"])
def test_gradcheck_interpreted_linear_kernels(source, inputs):
    mod = module(source, "triton")
    assert mod.BACKEND == "triton"
    q, k, v = (t.requires_grad_() for t in _qkv(1, 2, 1, 19, 19, 16, 3, shift=0.5))
    assert torch.autograd.gradcheck(lambda q, k, v: mod.attention(q, k, v, **inputs), (q, k, v),
                                    eps=1e-6, atol=1e-6, rtol=1e-4, fast_mode=True)


@pytest.mark.parametrize("source,features,columns", [(DECAYED_SUM.format(chunk=16), 16, 4), (TAYLOR_DECAY, 1 + 16 + 256, 3)],
                         ids=["decayed_sum", "taylor_decay"])
def test_the_state_carries_gradients_both_ways(source, features, columns):
    mod, ref = module(source, "triton"), module(source, "torch")
    gam = torch.tensor([0.9, 0.6], dtype=torch.float64)
    q, k, v = _qkv(1, 2, 1, 21, 21, 16, 3, shift=0.5)
    s0 = torch.rand(1, 2, features, columns, dtype=torch.float64)

    def run(m):
        return lambda q, k, v, s0: m.attention(q, k, v, gam=gam, initial_state=s0, return_state=True)

    leaves = [t.clone().requires_grad_() for t in (q, k, v, s0)]
    assert torch.autograd.gradcheck(run(mod), leaves, eps=1e-6, atol=1e-6, rtol=1e-4, fast_mode=True)
    got, want = run(mod)(*leaves), run(ref)(*leaves)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("source,inputs", [
    (DECAYED_SUM.format(chunk=16), {"gam": torch.tensor([0.9, 0.6, 0.99, 0.5], dtype=torch.float64)}),
    (CONSTANT_DECAY, {}),
    (TAYLOR_DECAY, {"gam": torch.tensor([0.3, -1.0, 2.0, 0.0], dtype=torch.float64)}),
    (next(p for p in LINEAR if p.stem == "based_linear").read_text(), {}),
], ids=["decayed_sum", "constant_decay", "taylor_decay", "based_linear"])
def test_prefill_then_steps_equal_one_full_call(source, inputs):
    mod = module(source, "triton")
    q, k, v = _qkv(2, 4, 2, 45, 45, 16, 8, shift=0.5)
    full = mod.attention(q, k, v, **inputs)
    o, state = mod.attention(q[:, :, :37], k[:, :, :37], v[:, :, :37], return_state=True, **inputs)
    pieces = [o]
    for start, stop in ((37, 38), (38, 41), (41, 45)):
        o, state = mod.step(q[:, :, start:stop], k[:, :, start:stop], v[:, :, start:stop], state, **inputs)
        pieces.append(o)
    torch.testing.assert_close(torch.cat(pieces, dim=2), full, atol=1e-12, rtol=1e-10)


@pytest.mark.parametrize("source,features,columns", [(LEARNED_DECAY, 16, 4), (LEARNED_TAYLOR, 1 + 16 + 256, 3)],
                         ids=["learned_decay", "learned_taylor"])
def test_a_learnable_decay_gets_its_gradient_through_the_state_too(source, features, columns):
    """dL/dlog g = sum_i i (g_i . u_i) - sum_j j (v'_j . dv'_j) + <S0, dS0> + (N - 1) <dS, S>:
    gradcheck of the decay's input, with and without a state in and out, against finite differences."""
    mod = module(source, "triton")
    q, k, v = _qkv(1, 2, 1, 21, 21, 16, 3, shift=0.5)
    g = torch.tensor([0.3, -0.8], dtype=torch.float64)
    s0 = torch.rand(1, 2, features, columns, dtype=torch.float64)
    leaves = [t.clone().requires_grad_() for t in (q, k, v, g, s0)]
    assert torch.autograd.gradcheck(lambda q, k, v, g, s0: mod.attention(q, k, v, g=g, initial_state=s0, return_state=True),
                                    leaves, eps=1e-6, atol=1e-6, rtol=1e-4, fast_mode=True)
    assert torch.autograd.gradcheck(lambda g: mod.attention(q, k, v, g=g), (leaves[3],), eps=1e-6, atol=1e-6, rtol=1e-4,
                                    fast_mode=True)
