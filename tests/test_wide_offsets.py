"""Offsets past 2**31 (issue 14, class 1): the softmax kernels take their row indices, and the
spec's input indices, in the constexpr IDX, int64 where the call's strides and sizes could
pass int32 (runtime.py.jinja, _index_dtype) and int32 otherwise, so ordinary calls keep int32.

The case that crashed: one head of a fused projection at a long row stride, whose row offsets
wrapped in int32 (SIGSEGV before). Its buffer is 4.4 GB of virtual memory of which only the rows
written are touched, so the test costs megabytes.
"""

import pytest
import torch

import attncc
from attncc.driver.pipeline import front_end
from attncc.checks.samples import sample_params
from conftest import ROOT
from support.reference_rule import assert_matches_reference

CAUSAL = (ROOT / "examples" / "causal.attn").read_text()
PRODUCT = """attention product_read "A table read at an index that multiplies positions."
input tbl[16] learnable
mask = j <= i
score = s + tbl[(i * M + j) % 16]
"""


def _meta(shape, strides):
    """A tensor of these sizes and strides with no memory behind it (shapes and strides only)."""
    extent = 1 + sum((n - 1) * st for n, st in zip(shape, strides))
    return torch.empty(extent, device="meta").as_strided(shape, strides)


def _sizes(N, M=None, D=16):
    return {"N": N, "M": N if M is None else M, "D": D, "DV": D}


def test_ordinary_calls_keep_int32_indices():
    m = attncc.load(CAUSAL, backend="triton")
    q = torch.zeros(2, 8, 4096, 128)
    assert m._index_dtype(_sizes(4096, D=128), {}, (q, q, q), []) == m.tl.int32
    fused = torch.zeros(1, 4096, 3 * 8 * 128)  # a [B, N, 3 * H * D] QKV projection, one head viewed
    view = fused[..., :128].unsqueeze(1)
    assert m._index_dtype(_sizes(4096, D=128), {}, (view,), []) == m.tl.int32


def test_a_long_row_stride_widens_the_indices():
    m = attncc.load(CAUSAL, backend="triton")
    view = _meta((1, 1, 1056, 64), (0, 0, 2 ** 21, 1))
    assert m._index_dtype(_sizes(1056, D=64), {}, (view,), []) == m.tl.int64
    wide_input = _meta((3, 2 ** 30), (2 ** 30, 1))  # offsets up to 3 * 2**30 - 1
    assert m._index_dtype(_sizes(64), {}, (), [wide_input]) == m.tl.int64


def test_a_product_of_positions_widens_by_the_lengths():
    m = attncc.load(PRODUCT, backend="triton")
    assert m._POSITION_PRODUCTS and not attncc.load(CAUSAL, backend="triton")._POSITION_PRODUCTS
    assert m._index_dtype(_sizes(40_000), {}, (), []) == m.tl.int32
    assert m._index_dtype(_sizes(50_000), {}, (), []) == m.tl.int64  # (i * M + j) reaches 2.5e9


def test_a_one_head_view_at_a_long_row_stride_gives_the_contiguous_result():
    m = attncc.load(CAUSAL, backend="triton")
    N, D, stride = 520, 16, 2 ** 22  # (N - 1) * stride = 2.18e9 > 2**31
    g = torch.Generator().manual_seed(0)
    buffer = torch.empty((N - 1) * stride + D, dtype=torch.float16)
    q = buffer.as_strided((1, 1, N, D), (0, 0, stride, 1))
    q.copy_(torch.randn(1, 1, N, D, generator=g).half())
    k, v, do = (torch.randn(1, 1, N, D, generator=g).half() for _ in range(3))
    assert m._index_dtype(_sizes(N, D=D), {}, (q, k, v), []) == m.tl.int64
    dense = q.detach().contiguous().requires_grad_()
    want = m.attention(dense, k, v)
    want.backward(do)
    q.requires_grad_()
    got = m.attention(q, k, v)
    got.backward(do)
    assert torch.equal(got, want)
    assert torch.equal(q.grad, dense.grad)


@pytest.mark.parametrize("index_dtype", ["int32", "int64"])
def test_both_index_dtypes_match_the_reference(monkeypatch, index_dtype):
    """The int64 path (learnable read, gradient scatter, every kernel) at a size the interpreter
    runs quickly, forced, against TESTING.md's rule."""
    m = attncc.load(PRODUCT, backend="triton")
    monkeypatch.setattr(m, "_index_dtype", lambda *args: getattr(m.tl, index_dtype))
    spec = front_end(PRODUCT)
    assert_matches_reference(PRODUCT, spec, (1, 2, 1, 37, 45, 16, 16), torch.float32, sample_params(spec), seed=5)
