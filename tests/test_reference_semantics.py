"""The torch reference backend's meaning, on small inline specs checked against hand math."""

import math

import pytest
import torch

import attncc

torch.set_default_dtype(torch.float64)


def qkv(B=1, H=2, HKV=1, N=5, M=5, D=4, DV=3, grad=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    make = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64).requires_grad_(grad)
    return make(B, H, N, D), make(B, HKV, M, D), make(B, HKV, M, DV)


def dense_softmax(q, k, v, mask, score_fn=lambda s: s, scale=None):
    H, HKV = q.shape[1], k.shape[1]
    k = k.repeat_interleave(H // HKV, 1)
    v = v.repeat_interleave(H // HKV, 1)
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = score_fn(scale * q @ k.transpose(-1, -2))
    s = s.masked_fill(~mask, -math.inf)
    return torch.softmax(s, -1) @ v, torch.logsumexp(s, -1)


@pytest.mark.parametrize("norm", ["softmax", "sum", "none", "softmax(sink = 0.5)"])
def test_fully_masked_rows_give_zero_and_no_nan(norm):
    score = "softplus(s)" if norm == "sum" else "s"
    mod = attncc.load(f"attention rows\nmask = j <= i - 3\nscore = {score}\nnorm = {norm}\n", backend="torch")
    q, k, v = qkv(N=6, M=6)
    o = mod.attention(q, k, v)
    assert torch.all(o[:, :, :3] == 0)
    assert torch.isfinite(o).all()
    grads = torch.autograd.grad(o.sum(), (q, k, v))
    assert all(torch.isfinite(g).all() for g in grads)
    assert torch.all(grads[0][:, :, :3] == 0)
    if norm.startswith("softmax"):
        _, lse = mod.attention(q, k, v, return_lse=True)
        expected = 0.5 if "sink" in norm else -math.inf
        assert torch.all(lse[:, :, :3] == expected)


def test_gqa_cross_attention_and_dv():
    mod = attncc.load("attention causal_cross\nmask = j <= i + 2\n", backend="torch")
    q, k, v = qkv(B=2, H=4, HKV=2, N=7, M=11, D=8, DV=5)
    o, lse = mod.attention(q, k, v, return_lse=True)
    mask = torch.arange(11).view(1, -1) <= torch.arange(7).view(-1, 1) + 2
    ref_o, ref_lse = dense_softmax(q, k, v, mask)
    torch.testing.assert_close(o, ref_o)
    torch.testing.assert_close(lse, ref_lse)
    assert o.shape == (2, 4, 7, 5) and lse.dtype == torch.float64


def test_lse_is_float32_for_float32_inputs_and_scale_override():
    mod = attncc.load("attention plain\n", backend="torch")
    q, k, v = (t.detach().float() for t in qkv())
    o, lse = mod.attention(q, k, v, scale=0.25, return_lse=True)
    ref_o, ref_lse = dense_softmax(q, k, v, torch.ones(5, 5, dtype=torch.bool), scale=0.25)
    assert lse.dtype == torch.float32
    torch.testing.assert_close(o, ref_o)
    torch.testing.assert_close(lse, ref_lse)


def test_floor_division_and_modulo_follow_python_on_negatives():
    # (i - j) is negative above the diagonal: Python floors, C truncates.
    mod = attncc.load("attention floors\nmask = (i - j) // 3 == -1 or (i - j) % 4 == 3\n", backend="torch")
    sizes = {"B": 1, "H": 1, "HKV": 1, "N": 9, "M": 9, "D": 4, "DV": 4}
    mask = mod._mask(sizes, {}, {})[0, 0]
    expected = torch.tensor([[(i - j) // 3 == -1 or (i - j) % 4 == 3 for j in range(9)] for i in range(9)])
    assert torch.equal(mask, expected)


def test_out_of_bounds_reads_give_zero():
    # bias has 3 entries but j runs to 5: reads past the end are 0, so those scores are s.
    mod = attncc.load("attention oob\ninput bias[3]\nscore = s + bias[j]\n", backend="torch")
    q, k, v = qkv(N=4, M=6, H=1)
    bias = torch.tensor([1.0, 2.0, 3.0])
    o = mod.attention(q, k, v, bias=bias)
    full = torch.cat([bias, torch.zeros(3)])
    ref, _ = dense_softmax(q, k, v, torch.ones(4, 6, dtype=torch.bool), lambda s: s + full)
    torch.testing.assert_close(o, ref)


def test_learnable_input_gets_a_gradient():
    mod = attncc.load("attention kb\ninput bias[H, M] learnable\nscore = s + bias[h, j]\n", backend="torch")
    q, k, v = qkv(H=2, N=3, M=4)
    bias = torch.randn(2, 4, requires_grad=True)
    assert torch.autograd.gradcheck(lambda q, k, v, b: mod.attention(q, k, v, bias=b), (q, k, v, bias))


@pytest.mark.parametrize("call, error, words", [
    (lambda m, q, k, v: m.attention(q, k, v, width=3.5), TypeError, "param 'width' must be int; got float 3.5"),
    (lambda m, q, k, v: m.attention(q, k, v, width=True), TypeError, "param 'width' must be int"),
    (lambda m, q, k, v: m.attention(q[0], k, v, width=3), ValueError, "'q' must have 4 dims [B, H, N, D]"),
    (lambda m, q, k, v: m.attention(q, k.float(), v, width=3), TypeError, "'k' has dtype torch.float32 but q has torch.float64"),
    (lambda m, q, k, v: m.attention(q, k[..., :2], v, width=3), ValueError, "'k' must have head dim D=4"),
    (lambda m, q, k, v: m.attention(q, k, v[:, :, :2], width=3), ValueError, "'v' must have shape [B, HKV, M, DV]"),
    (lambda m, q, k, v: m.attention(q, k.expand(1, 2, 5, 4)[:, :1].repeat(1, 3, 1, 1), v.repeat(1, 3, 1, 1), width=3),
     ValueError, "H=2 must be a multiple of k's heads HKV=3"),
    (lambda m, q, k, v: m.attention(q, k, v), TypeError, "width"),
    (lambda m, q, k, v: m.attention(q, k, v, width=3, return_lse=True), ValueError, "return_lse needs a softmax spec"),
    (lambda m, q, k, v: m.attention(q, "k", v, width=3), TypeError, "argument 'k' must be a torch.Tensor; got str"),
])
def test_bad_arguments_name_the_argument(call, error, words):
    mod = attncc.load("attention args\nparam width: int\nmask = abs(i - j) <= width\nscore = sigmoid(s)\nnorm = none\n",
                      backend="torch")
    q, k, v = qkv()
    with pytest.raises(error) as info:
        call(mod, q, k, v)
    assert words in str(info.value)


@pytest.mark.parametrize("value, error, words", [
    (lambda: torch.zeros(2, 5, dtype=torch.int32), ValueError, "input 'doc' must have shape [B, N] = (1, 5); got (2, 5)"),
    (lambda: torch.zeros(1, 5), TypeError, "input 'doc' must have dtype int32, int64; got torch.float64"),
    (lambda: torch.tensor([[0, 1, 1, 0, 2]]), ValueError, "input 'doc' is declared sorted but decreases"),
    (lambda: [[0, 0, 0, 0, 0]], TypeError, "argument 'doc' must be a torch.Tensor; got list"),
])
def test_bad_inputs_name_the_input(value, error, words):
    mod = attncc.load("attention docs\ninput doc[B, N]: int32 sorted\nmask = doc[b, i] == doc[b, j] and j <= i\n",
                      backend="torch")
    q, k, v = qkv()
    with pytest.raises(error) as info:
        mod.attention(q, k, v, doc=value())
    assert words in str(info.value)


def test_linear_attention_rules_at_call_time():
    mod = attncc.load("attention lin\nfeature = elu(x) + 1\nmask = j <= i\nnorm = sum\n", backend="torch")
    q, k, v = qkv(N=5, M=6)
    with pytest.raises(ValueError, match="causal linear attention needs N == M"):
        mod.attention(q, k, v)
    q, k, v = qkv(N=5, M=5)
    with pytest.raises(ValueError, match="'scale' does not apply to linear attention"):
        mod.attention(q, k, v, scale=0.5)


def test_non_finite_param_defaults_are_written_as_python():
    mod = attncc.load("attention capped\nparam cap: float = inf\nscore = min(s, cap)\n", backend="torch")
    assert mod.PARAMS["cap"] == ("float", math.inf)
    q, k, v = qkv()
    ref, _ = dense_softmax(q, k, v, torch.ones(5, 5, dtype=torch.bool))
    torch.testing.assert_close(mod.attention(q, k, v), ref)


def test_linear_spec_accepts_an_explicit_dense_mask():
    written = attncc.load("attention lin_true\nfeature = relu(x)\nmask = true\nnorm = none\n", backend="torch")
    implied = attncc.load("attention lin_none\nfeature = relu(x)\nnorm = none\n", backend="torch")
    q, k, v = qkv(N=4, M=6)
    torch.testing.assert_close(written.attention(q, k, v), implied.attention(q, k, v))
