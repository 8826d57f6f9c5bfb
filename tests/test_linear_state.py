"""The recurrent state of causal linear attention: `attention(..., initial_state=, return_state=)`
and `step`, on the torch reference backend, in float64.

Prefill followed by `step` calls must give the one-call causal result; the returned state must
equal an independent plain-torch sum over the keys (written here from DSL.md's formula, without
attncc code); gradients flow through the state in and the state out; bad states are refused
naming `initial_state`.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import pytest
import torch

import attncc
from attncc.language.elaborate import elaborate
from attncc.language.errors import SpecError
from attncc.language.parser import parse

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
F64 = torch.float64
ATOL, RTOL = 1e-10, 1e-8

# norm = sum with a decay read from an input, a required param in the feature map.
DECAY_SUM = """
attention decay_sum "normalized causal linear attention with a per-head decay from an input"
param lift: float
input gamma[H]
feature = elu(x) + lift
decay = gamma[h]
mask = j <= i
norm = sum
"""


def taylor2(x):
    outer = (x[..., :, None] * x[..., None, :]).flatten(-2) / math.sqrt(2)
    return torch.cat([torch.ones_like(x[..., :1]), x, outer], dim=-1)


def elu(x):
    return torch.where(x > 0, x, torch.expm1(x))


def retnet_gamma(H):
    return torch.tensor([1 - 2.0 ** (-5 - h) for h in range(H)], dtype=F64)


# name -> (feature map, norm is sum, decay per head from H and the kwargs, kwargs from H)
CASES = {
    "based_linear": (taylor2, True, None, lambda H: {}),
    "linear_causal_silu": (lambda x: x * torch.sigmoid(x), False, None, lambda H: {}),
    "retnet": (lambda x: x, False, lambda H, kw: retnet_gamma(H), lambda H: {}),
    "decay_sum": (lambda x: elu(x) + 0.5, True, lambda H, kw: kw["gamma"],
                  lambda H: {"lift": 0.5, "gamma": torch.linspace(0.6, 0.95, H, dtype=F64)}),
}


@functools.lru_cache(maxsize=None)
def module(name):
    if name == "decay_sum":
        return attncc.load(DECAY_SUM, backend="torch")
    return attncc.load(str(EXAMPLES / f"{name}.attn"), backend="torch")


def qkv(B, H, HKV, N, D, DV, seed=0, grad=False):
    g = torch.Generator().manual_seed(seed)
    make = lambda *s: torch.randn(*s, generator=g, dtype=F64).requires_grad_(grad)  # noqa: E731
    return make(B, H, N, D), make(B, HKV, N, D), make(B, HKV, N, DV)


def features(name, D):
    return 1 + D + D * D if name == "based_linear" else D


def ref_state(name, k, v, H, kw, S0=None):
    """sum_j gamma^(T-1-j) phi(k_j) outer [v_j, 1] (+ gamma^T S0), query head h reading kv head
    h // (H // HKV); the trailing ones column only for norm = sum."""
    phi, normalized, decay, _ = CASES[name]
    B, HKV, T, _ = k.shape
    kv_head = torch.arange(H) // (H // HKV)
    fk, vv = phi(k[:, kv_head]), v[:, kv_head]
    if normalized:
        vv = torch.cat([vv, torch.ones_like(vv[..., :1])], dim=-1)
    gamma = torch.ones(H, dtype=F64) if decay is None else decay(H, kw)
    S = torch.zeros(B, H, fk.shape[-1], vv.shape[-1], dtype=F64) if S0 is None else gamma.view(1, H, 1, 1) ** T * S0
    for j in range(T):
        weight = (gamma ** (T - 1 - j)).view(1, H, 1, 1)
        S = S + weight * fk[:, :, j, :, None] * vv[:, :, j, None, :]
    return S


def close(a, b):
    torch.testing.assert_close(a, b, atol=ATOL, rtol=RTOL)


# ----------------------------------------------------------------------------- prefill + steps


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("heads", [(2, 2), (4, 2)], ids=["mha", "gqa"])
def test_prefill_then_steps_equal_one_causal_call(name, heads):
    H, HKV = heads
    mod, kw = module(name), CASES[name][3](H)
    B, N, D, DV = 2, 13, 3, 4
    q, k, v = qkv(B, H, HKV, N, D, DV, seed=1)
    full = mod.attention(q, k, v, **kw)
    full_o, full_state = mod.attention(q, k, v, **kw, return_state=True)
    close(full_o, full)  # asking for the state does not change o
    chunks = [(0, 7), (7, 8), (8, 9), (9, 12), (12, 13)]  # prefill, 1, 1, 3, 1 tokens
    outs, state = [], None
    for n, (a, b) in enumerate(chunks):
        part = q[:, :, a:b], k[:, :, a:b], v[:, :, a:b]
        if n == 0:
            o, state = mod.attention(*part, **kw, return_state=True)
        else:
            o, state = mod.step(*part, state, **kw)
        assert o.shape == (B, H, b - a, DV) and o.dtype == F64
        outs.append(o)
    close(torch.cat(outs, dim=2), full)
    width = DV + 1 if CASES[name][1] else DV
    assert state.shape == (B, H, features(name, D), width) and state.dtype == F64
    close(state, full_state)
    close(state, ref_state(name, k, v, H, kw))


@pytest.mark.parametrize("name", list(CASES))
def test_state_matches_independent_sum(name):
    H = 2
    mod, kw = module(name), CASES[name][3](H)
    q, k, v = qkv(1, H, 1, 6, 3, 2, seed=2)
    _, state = mod.attention(q, k, v, **kw, return_state=True)
    close(state, ref_state(name, k, v, H, kw))
    # with an initial state: decay^T S0 + the call's keys
    S0 = ref_state(name, *qkv(1, H, 1, 4, 3, 2, seed=3)[1:], H, kw)
    _, state = mod.attention(q, k, v, **kw, initial_state=S0, return_state=True)
    close(state, ref_state(name, k, v, H, kw, S0=S0))
    _, again = mod.step(q, k, v, S0, **kw)
    close(again, state)


def test_step_with_no_state_is_a_fresh_call():
    mod = module("retnet")
    q, k, v = qkv(1, 2, 2, 5, 3, 3, seed=4)
    o, state = mod.step(q, k, v, None)
    close(o, mod.attention(q, k, v))
    close(state, ref_state("retnet", k, v, 2, {}))


def test_reduced_precision_keeps_the_state_in_float32():
    mod = module("decay_sum")
    kw = CASES["decay_sum"][3](2)
    kw["gamma"] = kw["gamma"].float()
    q, k, v = (t.float() for t in qkv(1, 2, 1, 6, 4, 4, seed=5))
    o, state = mod.attention(q, k, v, **kw, return_state=True)
    assert o.dtype == torch.float32 and state.dtype == torch.float32
    o16, state16 = mod.step(q.half(), k.half(), v.half(), state, **kw)
    assert o16.dtype == torch.float16 and state16.dtype == torch.float32
    o32, state32 = mod.step(q, k, v, state, **kw)
    torch.testing.assert_close(o16.float(), o32, atol=2e-2, rtol=2e-2)
    torch.testing.assert_close(state16, state32, atol=2e-2, rtol=2e-2)


# ----------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("name", list(CASES))
def test_gradcheck_through_the_state(name):
    H = 2
    mod, kw = module(name), CASES[name][3](H)
    q, k, v = qkv(1, H, 1, 3, 2, 2, seed=6, grad=True)
    width = 3 if CASES[name][1] else 2
    g = torch.Generator().manual_seed(7)
    S0 = (0.5 * torch.rand(1, H, features(name, 2), width, generator=g, dtype=F64)).requires_grad_()
    if CASES[name][1]:
        with torch.no_grad():
            S0[..., -1] += 1.0  # keep the denominators away from 0

    def run(q, k, v, S0):
        return mod.attention(q, k, v, **kw, initial_state=S0, return_state=True)

    assert torch.autograd.gradcheck(run, (q, k, v, S0))
    assert torch.autograd.gradcheck(lambda q, k, v, S0: mod.step(q, k, v, S0, **kw)[1], (q, k, v, S0))


# ----------------------------------------------------------------------------- argument checks


def test_bad_initial_state_is_refused_naming_it():
    mod = module("based_linear")
    q, k, v = qkv(2, 2, 1, 3, 2, 4, seed=8)
    F = 1 + 2 + 4
    good = torch.zeros(2, 2, F, 5, dtype=F64)
    mod.attention(q, k, v, initial_state=good)
    with pytest.raises(ValueError, match=r"'initial_state' must have shape \[B, H, 1 \+ D \+ D \* D, DV \+ 1\] = "
                                         r"\(2, 2, 7, 5\); got \(2, 2, 7, 4\)"):
        mod.attention(q, k, v, initial_state=torch.zeros(2, 2, F, 4, dtype=F64))
    with pytest.raises(ValueError, match=r"'initial_state' must have shape .*; got \(2, 2, 7\)"):
        mod.step(q, k, v, torch.zeros(2, 2, F, dtype=F64))
    with pytest.raises(TypeError, match=r"'initial_state' must be float16, bfloat16, float32 or float64; got torch.int64"):
        mod.attention(q, k, v, initial_state=good.long())
    with pytest.raises(TypeError, match=r"'initial_state' must be a torch.Tensor; got list"):
        mod.step(q, k, v, good.tolist())
    with pytest.raises(ValueError, match=r"'initial_state' is on meta but q is on cpu"):
        mod.attention(q, k, v, initial_state=good.to("meta"))
    none_mod = module("retnet")  # norm = none: no normalizer column
    with pytest.raises(ValueError, match=r"'initial_state' must have shape \[B, H, D, DV\] = \(2, 2, 2, 4\); got \(2, 2, 2, 5\)"):
        none_mod.attention(q, k, v, initial_state=torch.zeros(2, 2, 2, 5, dtype=F64))


def test_only_causal_linear_modules_have_the_state():
    dense = attncc.load(str(EXAMPLES / "linear_elu.attn"), backend="torch")
    softmax = attncc.load(str(EXAMPLES / "causal.attn"), backend="torch")
    q, k, v = qkv(1, 2, 2, 4, 3, 3)
    for mod in (dense, softmax):
        assert not hasattr(mod, "step")
        with pytest.raises(TypeError, match="initial_state"):
            mod.attention(q, k, v, initial_state=None)
        with pytest.raises(TypeError, match="return_state"):
            mod.attention(q, k, v, return_state=True)


@pytest.mark.parametrize("source", [
    "attention step\nfeature = x\nmask = j <= i\nnorm = none\n",
    "attention a\nparam state: int = 1\nfeature = x\nmask = j <= i\nnorm = none\n",
], ids=["spec-named-step", "param-named-state"])
def test_the_names_step_and_state_are_reserved(source):
    with pytest.raises(SpecError):
        elaborate(parse(source, "a.attn"), source, "a.attn")
