"""The launches a generated Triton module makes for one forward and backward pass, recorded.

Before: a module from `attncc.load(..., backend="triton")` in a process where Triton compiles
for a GPU (TRITON_INTERPRET=0; no GPU needed). After: each launch as (kernel, grid, arguments,
constants and the module's compile options), from zero-filled CPU tensors, with the tile configs the module's schedule picks on
the named GPU (or the caller's `kernel_options`); nothing runs, so the outputs are garbage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

import torch

# The device name each architecture is inspected as (the schedule's cache key reads it).
DEVICE_NAMES = {80: "NVIDIA A100-SXM4-80GB", 90: "NVIDIA H200", 100: "NVIDIA B200"}


@dataclass(frozen=True)
class Launch:
    kernel: Any
    grid: tuple
    args: tuple
    constants: dict
    pass_name: str  # "forward" or "backward"


def record_passes(module, spec, dtype: torch.dtype, sizes: Mapping[str, int], params: Mapping, inputs: Mapping,
                  capability: int, kernel_options: Optional[dict] = None, backward: bool = True) -> list[Launch]:
    """The launches of `module.attention` (and of its backward) at `sizes` in `dtype`."""
    launches: list[Launch] = []
    current = ["forward"]
    module._check_device = lambda q: None
    module._device_of = lambda q: (DEVICE_NAMES[capability], module.ARCHITECTURES[capability])
    module._launch = lambda kernel, grid, args, constants: launches.append(
        Launch(kernel, tuple(grid), tuple(args), {**constants, **module._COMPILE_OPTIONS}, current[0]))
    B, H, HKV, N, M, D, DV = (sizes[x] for x in ("B", "H", "HKV", "N", "M", "D", "DV"))
    q = torch.zeros(B, H, N, D, dtype=dtype, requires_grad=backward)
    k = torch.zeros(B, HKV, M, D, dtype=dtype, requires_grad=backward)
    v = torch.zeros(B, HKV, M, DV, dtype=dtype, requires_grad=backward)
    inputs = dict(inputs)
    for x in spec.learnable_inputs:
        inputs[x.name] = inputs[x.name].detach().clone().requires_grad_(backward)
    options = {} if kernel_options is None else {"kernel_options": kernel_options}
    out = module.attention(q, k, v, **params, **inputs, **options)
    if backward:
        current[0] = "backward"
        out.float().sum().backward()
    return launches
