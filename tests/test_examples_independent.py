"""The gallery (examples/*.attn) against hand-written, independent torch computations.

Every reference below is written from the formula in the paper / VARIANTS.md and the semantics
in DSL.md, in plain torch, without any attncc code: masks are built from explicit index
arithmetic (NATTEN's own window-start rule for natten2d), softmax goes through torch.softmax /
torch.logsumexp, and the retention / linear-attention references use the recurrent form
(a carried state), not the quadratic one the compiler emits. The compiled `torch` backend must
match them in float64: outputs, lse, and the gradients of q, k, v and every learnable input.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import pytest
import torch

import attncc

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ATOL, RTOL = 1e-9, 1e-7
F64 = torch.float64


@functools.lru_cache(maxsize=None)
def example(name):
    return attncc.load(str(EXAMPLES / f"{name}.attn"), backend="torch")


@functools.lru_cache(maxsize=None)
def inline(text):
    return attncc.load(text, backend="torch")


# ----------------------------------------------------------------------------- helpers


def qkv(B, H, HKV, N, M, D, DV, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, N, D, generator=g, dtype=F64).requires_grad_()
    k = torch.randn(B, HKV, M, D, generator=g, dtype=F64).requires_grad_()
    v = torch.randn(B, HKV, M, DV, generator=g, dtype=F64).requires_grad_()
    return q, k, v


def rand(*shape, seed=1, scale=1.0, grad=False):
    g = torch.Generator().manual_seed(seed)
    t = scale * torch.randn(*shape, generator=g, dtype=F64)
    return t.requires_grad_() if grad else t


def per_query_head(t, H):
    """k or v [B, HKV, M, *] -> [B, H, M, *]: query head h reads kv head h // (H // HKV)."""
    kv_head = torch.arange(H) // (H // t.shape[1])
    return t[:, kv_head]


def positions(N, M):
    """i [N, 1] and j [1, M]."""
    return torch.arange(N).view(N, 1), torch.arange(M).view(1, M)


def ref_softmax(q, k, v, allowed, score=None, scale=None, sink=None):
    """Masked softmax attention. allowed broadcasts to [B, H, N, M]; score(s) -> scores;
    sink broadcasts to [B, H, N] (a logit with a zero value vector). Returns (o, lse)."""
    B, H, N, D = q.shape
    M = k.shape[2]
    kk, vv = per_query_head(k, H), per_query_head(v, H)
    scale = 1.0 / math.sqrt(D) if scale is None else scale
    s = scale * torch.einsum("bhnd,bhmd->bhnm", q, kk)
    z = s if score is None else score(s)
    allowed = torch.as_tensor(allowed).expand(B, H, N, M)
    z = torch.where(allowed, z, torch.tensor(-math.inf, dtype=F64))
    if sink is not None:
        column = torch.as_tensor(sink, dtype=F64).expand(B, H, N).unsqueeze(-1)
        z = torch.cat([z, column], dim=-1)
    alive = torch.isfinite(z).any(dim=-1, keepdim=True)  # rows with something to attend to
    z = torch.where(alive, z, torch.zeros((), dtype=F64))  # keep softmax/logsumexp NaN-free
    p = torch.where(alive, torch.softmax(z, dim=-1), torch.zeros((), dtype=F64))
    lse = torch.where(alive.squeeze(-1), torch.logsumexp(z, dim=-1), torch.tensor(-math.inf, dtype=F64))
    if sink is not None:
        p = p[..., :M]  # the sink's value vector is zero
    return torch.einsum("bhnm,bhmd->bhnd", p, vv), lse


def ref_pointwise(q, k, v, allowed, score, norm, scale=None):
    """norm = 'sum' (w = score / row sum, empty row -> 0) or 'none' (w = score)."""
    B, H, N, D = q.shape
    M = k.shape[2]
    kk, vv = per_query_head(k, H), per_query_head(v, H)
    scale = 1.0 / math.sqrt(D) if scale is None else scale
    s = scale * torch.einsum("bhnd,bhmd->bhnm", q, kk)
    allowed = torch.as_tensor(allowed).expand(B, H, N, M)
    w = torch.where(allowed, score(s), torch.zeros((), dtype=F64))
    if norm == "sum":
        total = w.sum(dim=-1, keepdim=True)
        w = torch.where(total != 0, w / torch.where(total != 0, total, torch.ones((), dtype=F64)), 0.0)
    return torch.einsum("bhnm,bhmd->bhnd", w, vv)


def ref_linear_recurrent(q, k, v, phi, gamma=None, normalize=False):
    """Causal linear attention as an RNN: S_t = gamma S_{t-1} + phi(k_t)^T v_t,
    z_t = gamma z_{t-1} + phi(k_t), o_t = phi(q_t) S_t [/ phi(q_t) . z_t]. gamma: [H] or None."""
    B, H, N, _ = q.shape
    fq, fk, vv = phi(q), phi(per_query_head(k, H)), per_query_head(v, H)
    g = torch.ones(H, dtype=F64) if gamma is None else gamma
    g = g.view(1, H, 1, 1)
    S = torch.zeros(B, H, fq.shape[-1], vv.shape[-1], dtype=F64)
    z = torch.zeros(B, H, fq.shape[-1], dtype=F64)
    out = []
    for t in range(N):
        S = g * S + fk[:, :, t, :, None] * vv[:, :, t, None, :]
        z = g[..., 0] * z + fk[:, :, t]
        o_t = torch.einsum("bhf,bhfd->bhd", fq[:, :, t], S)
        if normalize:  # the literature's guard (docs/language.md): den + 1e-6
            den = (fq[:, :, t] * z).sum(-1, keepdim=True)
            o_t = o_t / (den + 1e-6)
        out.append(o_t)
    return torch.stack(out, dim=2)


def check(got, want, tensors, seed=7):
    """Compare outputs (o or (o, lse)) and the gradients w.r.t. `tensors` under a random
    upstream gradient; nothing may be NaN."""
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    assert len(got) == len(want)
    for g_out, w_out in zip(got, want):
        assert g_out.shape == w_out.shape
        assert g_out.dtype == F64, g_out.dtype  # float64 in -> float64 o and lse
        assert not torch.isnan(g_out).any()
        torch.testing.assert_close(g_out, w_out, atol=ATOL, rtol=RTOL)
    gen = torch.Generator().manual_seed(seed)
    upstream = [torch.randn(w.shape, generator=gen, dtype=F64) for w in want]
    g_got = torch.autograd.grad(got, tensors, upstream)
    g_want = torch.autograd.grad(want, tensors, upstream)
    for a, b in zip(g_got, g_want):
        assert not torch.isnan(a).any()
        torch.testing.assert_close(a, b, atol=ATOL, rtol=RTOL)


def call_softmax(mod, q, k, v, **kw):
    return mod.attention(q, k, v, return_lse=True, **kw)


# ----------------------------------------------------------------------------- softmax: masks

# (B, H, HKV, N, M, D, DV)
DENSE_SHAPES = [(2, 4, 2, 17, 63, 16, 24), (1, 2, 2, 129, 1, 32, 8), (1, 4, 1, 63, 17, 8, 8)]


@pytest.mark.parametrize("shape", DENSE_SHAPES)
def test_dense(shape):
    q, k, v = qkv(*shape)
    check(call_softmax(example("dense"), q, k, v), ref_softmax(q, k, v, True), (q, k, v))


def test_dense_scale_override():
    q, k, v = qkv(1, 2, 1, 17, 40, 16, 8, seed=3)
    check(call_softmax(example("dense"), q, k, v, scale=0.7), ref_softmax(q, k, v, True, scale=0.7), (q, k, v))


@pytest.mark.parametrize("shape", [(2, 4, 2, 63, 17, 16, 16), (1, 2, 1, 17, 63, 8, 12), (1, 2, 2, 129, 129, 16, 16)])
def test_causal(shape):
    q, k, v = qkv(*shape)
    i, j = positions(shape[3], shape[4])
    check(call_softmax(example("causal"), q, k, v), ref_softmax(q, k, v, j <= i), (q, k, v))


@pytest.mark.parametrize(
    "shape, window",
    [((1, 4, 2, 129, 129, 16, 24), 32), ((2, 2, 1, 63, 17, 8, 8), 5), ((1, 2, 2, 17, 63, 16, 16), None)],
)
def test_sliding_window(shape, window):
    q, k, v = qkv(*shape)
    i, j = positions(shape[3], shape[4])
    w = 32 if window is None else window
    allowed = (j <= i) & (i - j < w)
    kw = {} if window is None else {"window": window}
    got = call_softmax(example("sliding_window"), q, k, v, **kw)
    if shape[3] > shape[4] + w:  # N=63, M=17, window 5: queries 21.. see no key at all
        empty = ~allowed.any(dim=-1)
        assert empty.any()
        assert (got[0][:, :, empty] == 0).all() and (got[1][:, :, empty] == -math.inf).all()
    check(got, ref_softmax(q, k, v, allowed), (q, k, v))


@pytest.mark.parametrize("shape, sinks, window", [((1, 4, 2, 127, 127, 16, 16), 4, 16), ((2, 2, 2, 40, 63, 8, 16), 2, 3)])
def test_streaming_sink(shape, sinks, window):
    q, k, v = qkv(*shape)
    i, j = positions(shape[3], shape[4])
    allowed = (j <= i) & ((j < sinks) | (i - j < window))
    got = call_softmax(example("streaming_sink"), q, k, v, sinks=sinks, window=window)
    check(got, ref_softmax(q, k, v, allowed), (q, k, v))


@pytest.mark.parametrize("shape, prefix", [((1, 4, 2, 63, 63, 16, 24), 8), ((2, 2, 1, 17, 40, 8, 8), 20)])
def test_prefix_lm(shape, prefix):
    q, k, v = qkv(*shape)
    i, j = positions(shape[3], shape[4])
    got = call_softmax(example("prefix_lm"), q, k, v, prefix=prefix)
    check(got, ref_softmax(q, k, v, (j <= i) | (j < prefix)), (q, k, v))


def test_chunk_causal():
    q, k, v = qkv(1, 4, 2, 63, 63, 16, 16)
    i, j = positions(63, 63)
    got = call_softmax(example("chunk_causal"), q, k, v, chunk=8)
    check(got, ref_softmax(q, k, v, torch.div(j, 8, rounding_mode="floor") <= torch.div(i, 8, rounding_mode="floor")), (q, k, v))


def documents(B, N, lengths_per_row):
    """doc[B, N] int32: row b is documents of the given lengths, numbered 0, 1, ... (sorted)."""
    doc = torch.empty(B, N, dtype=torch.int32)
    for b, lengths in enumerate(lengths_per_row):
        assert sum(lengths) == N
        doc[b] = torch.repeat_interleave(torch.arange(len(lengths), dtype=torch.int32), torch.tensor(lengths))
    return doc


@pytest.mark.parametrize(
    "shape, lengths",
    [
        ((2, 4, 2, 63, 63, 16, 24), [[10, 35, 18], [1, 1, 40, 20, 1]]),
        ((2, 2, 1, 63, 40, 8, 8), [[10, 35, 18], [63]]),  # row 0: queries 45.. have no key < 40 in their doc
        ((2, 2, 2, 17, 30, 16, 8), [[17], [5, 5, 7]]),
    ],
)
def test_document_causal(shape, lengths):
    B, _, _, N, M, _, _ = shape
    q, k, v = qkv(*shape)
    doc = documents(B, N, lengths)
    # explicit pairwise comparison: pad doc with -1 (never equal) for keys past N
    dk = torch.full((B, max(N, M)), -1, dtype=torch.int64)
    dk[:, :N] = doc
    i, j = positions(N, M)
    allowed = (doc.long()[:, None, :, None] == dk[:, None, None, :M]) & (j <= i)
    got = call_softmax(example("document_causal"), q, k, v, doc=doc)
    check(got, ref_softmax(q, k, v, allowed), (q, k, v))


def natten_start(index, length, radius, dilation):
    """NATTEN's window start (its CPU kernels' get_window_start), with neighbourhood size
    `radius` and kernel size 2 * radius + 1: the window is shifted at the borders."""
    if dilation <= 1:
        return max(index - radius, 0) + (index + radius >= length) * (length - index - radius - 1)
    ni = index - radius * dilation
    if ni < 0:
        return index % dilation
    if index + radius * dilation >= length:
        imodd = index % dilation
        a = (length // dilation) * dilation
        b = length - a
        if imodd < b:
            return length - b + imodd - 2 * radius * dilation
        return a + imodd - (2 * radius + 1) * dilation
    return ni


def natten2d_allowed(height, width, radius, dilation):
    N = height * width
    allowed = torch.zeros(N, N, dtype=torch.bool)
    for qy in range(height):
        sy = natten_start(qy, height, radius, dilation)
        rows = [sy + t * dilation for t in range(2 * radius + 1)]
        for qx in range(width):
            sx = natten_start(qx, width, radius, dilation)
            cols = [sx + t * dilation for t in range(2 * radius + 1)]
            keys = [ky * width + kx for ky in rows for kx in cols]
            allowed[qy * width + qx, keys] = True
    return allowed


@pytest.mark.parametrize(
    "height, width, radius, dilation, H, HKV",
    [(7, 9, 2, 1, 4, 2), (16, 8, 1, 2, 2, 1), (8, 16, None, None, 2, 2), (10, 12, 1, 3, 2, 2)],
)
def test_natten2d(height, width, radius, dilation, H, HKV):
    N = height * width
    r = 3 if radius is None else radius
    d = 1 if dilation is None else dilation
    q, k, v = qkv(1, H, HKV, N, N, 16, 8)
    allowed = natten2d_allowed(height, width, r, d)
    assert (allowed.sum(-1) == (2 * r + 1) ** 2).all()  # every query sees a full window
    kw = {"width": width}
    if radius is not None:
        kw.update(radius=radius, dilation=dilation)
    check(call_softmax(example("natten2d"), q, k, v, **kw), ref_softmax(q, k, v, allowed), (q, k, v))


def test_natten1d_window_is_shifted_at_the_ends():
    N, radius, dilation = 50, 3, 2
    q, k, v = qkv(1, 2, 1, N, N, 8, 8)
    allowed = torch.zeros(N, N, dtype=torch.bool)
    for i in range(N):
        start = natten_start(i, N, radius, dilation)
        allowed[i, [start + t * dilation for t in range(2 * radius + 1)]] = True
    got = call_softmax(example("natten1d"), q, k, v, radius=radius, dilation=dilation)
    check(got, ref_softmax(q, k, v, allowed), (q, k, v))


def test_swin2d_shifted():
    height, width, window, shift = 8, 12, 4, 2
    N = height * width
    q, k, v = qkv(1, 2, 2, N, N, 16, 8)
    # Swin's way: cyclic shift by -shift, window partition, and the region mask (slices
    # (0, -window), (-window, -shift), (-shift, None) along each axis of the rolled image)
    def regions(n):
        r = torch.zeros(n, dtype=torch.long)
        r[n - window : n - shift] = 1
        r[n - shift :] = 2
        return r
    ry, rx = regions(height), regions(width)
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    ys_r, xs_r = (ys - shift) % height, (xs - shift) % width  # rolled coordinates of each token
    win = (ys_r // window) * 100 + (xs_r // window)
    reg = ry[ys_r] * 10 + rx[xs_r]
    key = (win * 1000 + reg).flatten()
    allowed = key[:, None] == key[None, :]
    got = call_softmax(example("swin2d"), q, k, v, width=width, window=window, shift=shift)
    check(got, ref_softmax(q, k, v, allowed), (q, k, v))


def test_token_type():
    q, k, v = qkv(2, 4, 2, 63, 63, 16, 8)
    img = torch.zeros(2, 63, dtype=torch.bool)
    img[0, 5:30] = True  # one image in row 0, two in row 1
    img[1, 0:10] = True
    img[1, 40:63] = True
    i, j = positions(63, 63)
    allowed = (j <= i) | (img[:, None, :, None] & img[:, None, None, :])
    check(call_softmax(example("token_type"), q, k, v, img=img), ref_softmax(q, k, v, allowed), (q, k, v))


def test_per_head_window():
    q, k, v = qkv(1, 4, 2, 63, 63, 16, 8)
    windows = torch.tensor([0, 3, 17, 1000], dtype=torch.int32)  # head 0 sees nothing at all
    i, j = positions(63, 63)
    allowed = (j <= i) & (i - j < windows.long().view(1, 4, 1, 1))
    o, lse = got = call_softmax(example("per_head_window"), q, k, v, windows=windows)
    assert (o[:, 0] == 0).all() and (lse[:, 0] == -math.inf).all()
    check(got, ref_softmax(q, k, v, allowed), (q, k, v))


def test_duo_heads():
    q, k, v = qkv(2, 4, 2, 127, 127, 8, 16)
    streaming = torch.tensor([True, False, False, True])
    i, j = positions(127, 127)
    local = (j < 3) | (i - j < 10)
    allowed = (j <= i) & torch.where(streaming.view(1, 4, 1, 1), local, True)
    got = call_softmax(example("duo_heads"), q, k, v, streaming=streaming, sinks=3, window=10)
    check(got, ref_softmax(q, k, v, allowed), (q, k, v))


def test_s2_sharded():
    q, k, v = qkv(1, 4, 4, 129, 129, 16, 8)
    local, block, shards = 8, 4, 3
    i, j = positions(129, 129)
    h = torch.arange(4).view(1, 4, 1, 1)
    # head h owns the key blocks jb with jb = -h (mod shards)
    owned = (-(j // block)) % shards == h % shards
    allowed = (j <= i) & ((i - j < local) | owned)
    got = call_softmax(example("s2_sharded"), q, k, v, local=local, block=block, shards=shards)
    check(got, ref_softmax(q, k, v, allowed), (q, k, v))


def test_maxvit_grid():
    height, width, grid = 8, 12, 4
    N = height * width
    q, k, v = qkv(1, 2, 1, N, N, 16, 8)
    # MaxViT's grid partition: (H, W) -> (G, H/G, G, W/G); a group is fixed (H/G, W/G) indices
    cells = torch.arange(N).view(grid, height // grid, grid, width // grid)
    allowed = torch.zeros(N, N, dtype=torch.bool)
    for a in range(height // grid):
        for c in range(width // grid):
            members = cells[:, a, :, c].flatten()
            allowed[members[:, None], members[None, :]] = True
    assert (allowed.sum(-1) == grid * grid).all()
    got = call_softmax(example("maxvit_grid"), q, k, v, width=width, grid=grid)
    check(got, ref_softmax(q, k, v, allowed), (q, k, v))


def test_halo2d():
    height, width, block, halo = 12, 8, 4, 1
    N = height * width
    q, k, v = qkv(2, 2, 2, N, N, 16, 8)
    allowed = torch.zeros(N, N, dtype=torch.bool)
    for by in range(0, height, block):
        for bx in range(0, width, block):
            queries = [y * width + x for y in range(by, by + block) for x in range(bx, bx + block)]
            keys = [
                y * width + x
                for y in range(max(by - halo, 0), min(by + block + halo, height))
                for x in range(max(bx - halo, 0), min(bx + block + halo, width))
            ]
            allowed[torch.tensor(queries)[:, None], torch.tensor(keys)[None, :]] = True
    got = call_softmax(example("halo2d"), q, k, v, width=width, block=block, halo=halo)
    check(got, ref_softmax(q, k, v, allowed), (q, k, v))


# ----------------------------------------------------------------------------- softmax: scores


@pytest.mark.parametrize("shape", [(1, 4, 2, 129, 129, 16, 24), (2, 4, 4, 17, 63, 8, 8)])
def test_alibi(shape):
    q, k, v = qkv(*shape)
    H, N, M = shape[1], shape[3], shape[4]
    slopes = torch.tensor([2.0 ** (-8.0 * (h + 1) / H) for h in range(H)], dtype=F64)
    i, j = positions(N, M)
    bias = -slopes.view(1, H, 1, 1) * (i - j).to(F64)
    got = call_softmax(example("alibi"), q, k, v, slopes=slopes)
    check(got, ref_softmax(q, k, v, j <= i, score=lambda s: s + bias), (q, k, v))


@pytest.mark.parametrize("shape, cap, scale", [((1, 4, 2, 63, 63, 16, 24), 2.0, 1.0), ((2, 2, 1, 17, 40, 8, 8), None, None)])
def test_softcap(shape, cap, scale):
    q, k, v = qkv(*shape)
    i, j = positions(shape[3], shape[4])
    c = 50.0 if cap is None else cap
    kw = {} if cap is None else {"cap": cap, "scale": scale}
    got = call_softmax(example("softcap"), q, k, v, **kw)
    check(got, ref_softmax(q, k, v, j <= i, score=lambda s: c * torch.tanh(s / c), scale=scale), (q, k, v))


@pytest.mark.parametrize(
    "shape, radius",
    [((1, 4, 2, 63, 70, 16, 24), 5), ((2, 2, 2, 129, 129, 8, 8), None), ((1, 2, 1, 40, 17, 16, 8), 3)],
)
def test_rpb1d(shape, radius):
    q, k, v = qkv(*shape)
    H, N, M = shape[1], shape[3], shape[4]
    r = 16 if radius is None else radius
    rpb = rand(H, 2 * r + 1, seed=5, grad=True)
    i, j = positions(N, M)
    allowed = (i - j).abs() <= r
    offset = (j - i + r).clamp(0, 2 * r)  # only read where allowed
    bias = rpb[:, offset]  # [H, N, M]
    kw = {"rpb": rpb} if radius is None else {"rpb": rpb, "radius": radius}
    got = call_softmax(example("rpb1d"), q, k, v, **kw)
    check(got, ref_softmax(q, k, v, allowed, score=lambda s: s + bias), (q, k, v, rpb))


def test_rpb2d():
    height, width, window, H = 8, 8, 4, 2
    N = height * width
    q, k, v = qkv(2, H, 1, N, N, 16, 8)
    rpb = rand(H, 2 * window - 1, 2 * window - 1, seed=6, grad=True)
    y, x = torch.arange(N) // width, torch.arange(N) % width
    allowed = ((y[:, None] // window) == (y[None, :] // window)) & ((x[:, None] // window) == (x[None, :] // window))
    dy = (y[:, None] - y[None, :] + window - 1).clamp(0, 2 * window - 2)
    dx = (x[:, None] - x[None, :] + window - 1).clamp(0, 2 * window - 2)
    bias = rpb[:, dy, dx]
    got = call_softmax(example("rpb2d"), q, k, v, rpb=rpb, width=width, window=window)
    check(got, ref_softmax(q, k, v, allowed, score=lambda s: s + bias), (q, k, v, rpb))


def test_key_bias():
    q, k, v = qkv(1, 4, 2, 63, 63, 16, 24)
    bias = rand(4, 63, seed=8, grad=True)
    i, j = positions(63, 63)
    got = call_softmax(example("key_bias"), q, k, v, bias=bias)
    check(got, ref_softmax(q, k, v, j <= i, score=lambda s: s + bias[None, :, None, :]), (q, k, v, bias))


def test_temperature():
    q, k, v = qkv(1, 4, 2, 63, 80, 16, 24)
    alpha = rand(4, seed=9, scale=0.3, grad=True)
    i, j = positions(63, 80)
    factor = 1 + alpha.view(1, 4, 1, 1) * torch.log1p(i.to(F64))
    got = call_softmax(example("temperature"), q, k, v, alpha=alpha)
    check(got, ref_softmax(q, k, v, j <= i, score=lambda s: s * factor), (q, k, v, alpha))


@pytest.mark.parametrize("shape", [(2, 4, 2, 63, 63, 16, 24), (1, 2, 1, 17, 40, 8, 8)])
def test_softmax_sink(shape):
    q, k, v = qkv(*shape)
    H, N, M = shape[1], shape[3], shape[4]
    sinks = rand(H, seed=4, grad=True)
    i, j = positions(N, M)
    got = call_softmax(example("softmax_sink"), q, k, v, sinks=sinks)
    check(got, ref_softmax(q, k, v, j <= i, sink=sinks.view(1, H, 1)), (q, k, v, sinks))


# ----------------------------------------------------------------------------- pointwise norms


@pytest.mark.parametrize("shape", [(2, 4, 2, 17, 63, 16, 24), (1, 2, 2, 129, 30, 8, 8)])
def test_sigmoid_attn(shape):
    q, k, v = qkv(*shape)
    M = shape[4]
    got = example("sigmoid_attn").attention(q, k, v)
    check(got, ref_pointwise(q, k, v, True, lambda s: torch.sigmoid(s - math.log(M)), "none"), (q, k, v))


@pytest.mark.parametrize("shape", [(1, 4, 2, 63, 17, 16, 24), (2, 2, 1, 17, 129, 8, 8)])
def test_softplus_l1(shape):
    q, k, v = qkv(*shape)
    got = example("softplus_l1").attention(q, k, v)
    check(got, ref_pointwise(q, k, v, True, lambda s: torch.log1p(torch.exp(s)), "sum"), (q, k, v))


@pytest.mark.parametrize("shape", [(2, 2, 1, 63, 100, 16, 8), (1, 4, 2, 17, 17, 32, 16)])
def test_relu2(shape):
    q, k, v = qkv(*shape)
    M = shape[4]
    got = example("relu2").attention(q, k, v)
    check(got, ref_pointwise(q, k, v, True, lambda s: s.clamp(min=0) ** 2 / M, "none"), (q, k, v))


# ----------------------------------------------------------------------------- linear attention


@pytest.mark.parametrize("shape", [(1, 4, 2, 129, 129, 16, 24), (2, 2, 2, 17, 17, 8, 8)])
def test_retnet(shape):
    q, k, v = qkv(*shape)
    H = shape[1]
    gamma = torch.tensor([1 - 2.0 ** (-5 - h) for h in range(H)], dtype=F64)
    got = example("retnet").attention(q, k, v)
    check(got, ref_linear_recurrent(q, k, v, lambda x: x, gamma=gamma), (q, k, v))


def taylor2(x):
    """[1, x, vec(x x^T) / sqrt(2)] along the last dim."""
    outer = (x[..., :, None] * x[..., None, :]).flatten(-2) / math.sqrt(2)
    return torch.cat([torch.ones_like(x[..., :1]), x, outer], dim=-1)


@pytest.mark.parametrize("shape", [(1, 2, 1, 63, 63, 8, 12), (2, 4, 2, 17, 17, 4, 8)])
def test_based_linear(shape):
    q, k, v = qkv(*shape)
    # the identity the map is built for
    a, b = q[0, 0, 0].detach(), k[0, 0, 0].detach()
    assert torch.allclose(taylor2(a) @ taylor2(b), 1 + a @ b + (a @ b) ** 2 / 2)
    got = example("based_linear").attention(q, k, v)
    check(got, ref_linear_recurrent(q, k, v, taylor2, normalize=True), (q, k, v))


@pytest.mark.parametrize("shape", [(1, 4, 2, 17, 63, 16, 24), (2, 2, 1, 129, 40, 8, 8)])
def test_linear_elu(shape):
    q, k, v = qkv(*shape)
    H = shape[1]
    phi = lambda x: torch.where(x > 0, x, torch.expm1(x)) + 1  # noqa: E731
    fq, fk, vv = phi(q), phi(per_query_head(k, H)), per_query_head(v, H)
    kv = torch.einsum("bhmf,bhmd->bhfd", fk, vv)  # global reduction, as the paper computes it
    num = torch.einsum("bhnf,bhfd->bhnd", fq, kv)
    den = torch.einsum("bhnf,bhf->bhn", fq, fk.sum(dim=2))
    got = example("linear_elu").attention(q, k, v)
    check(got, num / (den.unsqueeze(-1) + 1e-6), (q, k, v))  # the literature's guard: den + 1e-6


def test_linear_causal_silu():
    q, k, v = qkv(1, 2, 2, 129, 129, 16, 16)
    got = example("linear_causal_silu").attention(q, k, v)
    check(got, ref_linear_recurrent(q, k, v, lambda x: x * torch.sigmoid(x)), (q, k, v))


# ----------------------------------------------------------------------------- fully masked rows

EMPTY_ROWS_SOFTMAX = """
attention empty_rows "the first three queries see nothing"
mask = j <= i - 3
"""

EMPTY_ROWS_SINK = """
attention empty_rows_sink
param window: int = 4
input sinks[H] learnable
mask = j <= i and i - j < window
norm = softmax(sink = sinks[h])
"""

EMPTY_ROWS_SUM = """
attention empty_rows_sum
mask = j <= i - 3
score = softplus(s)
norm = sum
"""

EMPTY_ROWS_NONE = """
attention empty_rows_none
mask = j <= i - 3
score = sigmoid(s)
norm = none
"""


def test_empty_rows_softmax():
    q, k, v = qkv(2, 4, 2, 17, 17, 16, 8)
    i, j = positions(17, 17)
    o, lse = call_softmax(inline(EMPTY_ROWS_SOFTMAX), q, k, v)
    assert (o[:, :, :3] == 0).all() and (lse[:, :, :3] == -math.inf).all()
    assert torch.isfinite(lse[:, :, 3:]).all()
    gq, gk, gv = torch.autograd.grad((o, lse), (q, k, v), (torch.randn_like(o), torch.randn_like(lse)))
    assert (gq[:, :, :3] == 0).all() and (gk[:, :, -3:] == 0).all() and (gv[:, :, -3:] == 0).all()
    assert not any(torch.isnan(g).any() for g in (gq, gk, gv))
    o, lse = got = call_softmax(inline(EMPTY_ROWS_SOFTMAX), q, k, v)
    check(got, ref_softmax(q, k, v, j <= i - 3), (q, k, v))


def test_empty_rows_sink():
    q, k, v = qkv(1, 4, 2, 40, 17, 16, 8)
    sinks = rand(4, seed=11, grad=True)
    i, j = positions(40, 17)
    allowed = (j <= i) & (i - j < 4)
    o, lse = got = call_softmax(inline(EMPTY_ROWS_SINK), q, k, v, sinks=sinks)
    assert (o[:, :, 20:] == 0).all()  # queries 20.. see no key: o = 0 and lse = the sink logit
    torch.testing.assert_close(lse[:, :, 20:], sinks.detach().view(1, 4, 1).expand(1, 4, 20), atol=0, rtol=0)
    check(got, ref_softmax(q, k, v, allowed, sink=sinks.view(1, 4, 1)), (q, k, v, sinks))


@pytest.mark.parametrize("text, score, norm", [
    (EMPTY_ROWS_SUM, lambda s: torch.log1p(torch.exp(s)), "sum"),
    (EMPTY_ROWS_NONE, torch.sigmoid, "none"),
])
def test_empty_rows_pointwise(text, score, norm):
    q, k, v = qkv(1, 2, 1, 17, 33, 8, 8)
    i, j = positions(17, 33)
    o = inline(text).attention(q, k, v)
    assert (o[:, :, :3] == 0).all()
    check(o, ref_pointwise(q, k, v, j <= i - 3, score, norm), (q, k, v))
