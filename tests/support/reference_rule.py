"""TESTING.md's rule for a compiled triton module against the float64 torch reference."""

import functools

import torch

import attncc
from attncc.checks.samples import sample_inputs
from support.forward_backward import forward_backward


@functools.lru_cache(maxsize=None)
def module(source_or_path: str, backend: str):
    return attncc.load(source_or_path, backend=backend)


def assert_matches_reference(path_or_source, spec, shape, dtype, params, seed=0):
    """TESTING.md's rule for every output and gradient of the triton module at `shape`."""
    B, H, HKV, N, M, D, DV = shape
    sizes = dict(B=B, H=H, HKV=HKV, N=N, M=M, D=D, DV=DV)
    inputs = sample_inputs(spec, sizes, params, seed=seed + 1)
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, N, D, generator=g, dtype=torch.float64)
    k = torch.randn(B, HKV, M, D, generator=g, dtype=torch.float64)
    v = torch.randn(B, HKV, M, DV, generator=g, dtype=torch.float64)
    do = torch.randn(B, H, N, DV, generator=g, dtype=torch.float64)
    dlse = torch.randn(B, H, N, generator=g, dtype=torch.float64)

    def cast(t, to):
        return t.to(to) if t.is_floating_point() else t

    reference = module(path_or_source, "torch")
    golden = forward_backward(reference, spec, q, k, v, params, {n: cast(t, torch.float64) for n, t in inputs.items()}, do, dlse)
    low = [cast(t, dtype) for t in (q, k, v)]
    same_dtype = forward_backward(reference, spec, *low, params, inputs, do, dlse)
    kernel = forward_backward(module(path_or_source, "triton"), spec, *low, params, inputs, do, dlse)
    for name, want in golden.items():
        got, ref = kernel[name], same_dtype[name]
        assert got.shape == want.shape and got.dtype == ref.dtype, name
        if name == "lse":
            assert torch.equal(torch.isinf(got), torch.isinf(want)), "lse is -inf exactly on fully masked rows"
            finite = torch.isfinite(want)
            got, want, ref = got[finite], want[finite], ref[finite]
        assert torch.isfinite(got).all(), f"{name} has NaN or inf"
        err = (got.double() - want).abs().max().item() if got.numel() else 0.0
        err_ref = (ref.double() - want).abs().max().item() if got.numel() else 0.0
        assert err <= 2 * err_ref + 1e-5, f"{name}: kernel error {err:.3g} > 2 * reference error {err_ref:.3g} + 1e-5"
