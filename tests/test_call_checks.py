"""A generated module's call-time checks (issue 14, class 6): what a caller can pass gives a
result or a ValueError / TypeError naming the argument and the fix, before any kernel runs;
meta tensors give meta outputs (and meta gradients) without a kernel."""

import numpy as np
import pytest
import torch

import attncc

SOFTMAX = """attention checked "A spec with every kind of param and a learnable and a fixed input."
param window: int = 4
param temperature: float = 1.0
param keep_diagonal: bool = true
input bias[H, N] learnable
input weight[H]
mask = (j <= i and i - j < window) or (keep_diagonal and i == j)
score = s / temperature + bias[h, i] * weight[h]
"""
LINEAR = """attention checked_linear
mask = j <= i
feature = elu(x) + 1
norm = sum
decay = 0.9
"""
BACKENDS = ("triton", "torch")


def _qkv(B=1, H=2, HKV=2, N=8, M=8, D=16, device="cpu", grad=False):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(*shape, generator=g, dtype=torch.float32).to(device).requires_grad_(grad)
            for shape in ((B, H, N, D), (B, HKV, M, D), (B, HKV, M, D))]


def _inputs(H=2, N=8, device="cpu", grad=False):
    return {"bias": torch.zeros(H, N, device=device, dtype=torch.float32, requires_grad=grad),
            "weight": torch.ones(H, device=device, dtype=torch.float32)}


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_heads_or_batch_are_refused_by_name(backend):
    m = attncc.load(SOFTMAX, backend=backend)
    for shapes in ({"HKV": 0}, {"B": 0}, {"H": 0, "HKV": 0}):
        q, k, v = _qkv(**shapes)
        with pytest.raises(ValueError, match="empty batch, heads, sequence or head dim"):
            m.attention(q, k, v, **_inputs(H=q.shape[1]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_params_take_numpy_scalars_and_refuse_what_int64_cannot_hold(backend):
    m = attncc.load(SOFTMAX, backend=backend)
    q, k, v = _qkv()
    plain = m.attention(q, k, v, **_inputs(), window=3, temperature=0.5, keep_diagonal=False, scale=0.25)
    numpy = m.attention(q, k, v, **_inputs(), window=np.int64(3), temperature=np.float32(0.5),
                        keep_diagonal=np.bool_(False), scale=np.float32(0.25))
    assert torch.equal(plain, numpy)
    for value in (2 ** 63, -2 ** 63 - 1, 10 ** 30):
        with pytest.raises(ValueError, match=r"param 'window' = .* does not fit the kernels' int64"):
            m.attention(q, k, v, **_inputs(), window=value)
    for name, value in (("window", 3.0), ("window", True), ("window", np.bool_(True)), ("temperature", "1"),
                        ("keep_diagonal", 1)):
        with pytest.raises(TypeError, match=f"param '{name}' must be"):
            m.attention(q, k, v, **_inputs(), **{name: value})


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_fixed_input_that_requires_grad_is_refused_with_the_fix(backend):
    m = attncc.load(SOFTMAX, backend=backend)
    q, k, v = _qkv(grad=True)
    inputs = _inputs(grad=True)
    inputs["weight"] = torch.ones(2, dtype=torch.float32, requires_grad=True)
    with pytest.raises(ValueError, match=r"input 'weight' requires grad, but the spec does not declare it learnable"
                                         r".*input weight\[\.\.\.\] learnable.*weight\.detach\(\)"):
        m.attention(q, k, v, **inputs)
    with torch.no_grad():  # nothing would be lost
        m.attention(q, k, v, **inputs)
    inputs["weight"] = inputs["weight"].detach()
    o = m.attention(q, k, v, **inputs)
    o.sum().backward()
    assert inputs["bias"].grad is not None  # the learnable one gets its gradient


@pytest.mark.parametrize("backend", BACKENDS)
def test_meta_tensors_give_meta_outputs_and_gradients(backend):
    m = attncc.load(SOFTMAX, backend=backend)
    q, k, v = _qkv(B=2, H=4, HKV=2, N=5, M=7, D=16, device="meta", grad=True)
    inputs = _inputs(H=4, N=5, device="meta", grad=True)
    o, lse = m.attention(q, k, v, **inputs, return_lse=True)
    assert (o.device.type, tuple(o.shape), o.dtype) == ("meta", (2, 4, 5, 16), torch.float32)
    assert (lse.device.type, tuple(lse.shape), lse.dtype) == ("meta", (2, 4, 5), torch.float32)
    (o.sum() + lse.sum()).backward()
    for t in (q, k, v, inputs["bias"]):
        assert t.grad is not None and t.grad.is_meta and t.grad.shape == t.shape
    half = [t.detach().half() for t in (q, k, v)]
    assert m.attention(*half, **_inputs(H=4, N=5, device="meta")).dtype == torch.float16


@pytest.mark.parametrize("backend", BACKENDS)
def test_meta_tensors_give_the_linear_state_too(backend):
    m = attncc.load(LINEAR, backend=backend)
    q, k, v = _qkv(N=6, M=6, D=8, device="meta")
    o, state = m.attention(q, k, v, return_state=True)
    assert o.is_meta and tuple(o.shape) == (1, 2, 6, 8)
    cpu_o, cpu_state = m.attention(*_qkv(N=6, M=6, D=8), return_state=True)
    assert state.is_meta and state.shape == cpu_state.shape and state.dtype == cpu_state.dtype
