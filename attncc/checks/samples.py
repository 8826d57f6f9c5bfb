"""Sample values for a spec's params and inputs: for `show`'s picture, the tests and demos.

`sample_params` fills in defaults;
`sample_inputs` makes tensors of the declared shapes with values that respect the
declaration: `sorted` inputs are non-decreasing along the last dim (document ids that start
new documents at different places in each row), bools are random, ints small and
non-negative, floats modest.
"""

from __future__ import annotations

from typing import Mapping, Optional

import torch

from .. import ir
from ..ir.constfold import evaluate

_TORCH_DTYPES = {
    "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
    "int32": torch.int32, "int64": torch.int64, "bool": torch.bool,
}


def sample_params(spec: ir.Spec, given: Optional[Mapping] = None) -> dict:
    """Every param's value: `given`, else its default.

    Raises ValueError naming the params that have no value.
    """
    given = dict(given or {})
    values, missing = {}, []
    for p in spec.params:
        if p.name in given:
            values[p.name] = given[p.name]
        elif p.default is not None:
            values[p.name] = p.default
        else:
            missing.append(p.name)
    if missing:
        raise ValueError("no value for param " + ", ".join(f"'{m}'" for m in missing)
                         + "; give one (e.g. --param " + f"{missing[0]}=...)")
    return values


def input_shape(decl: ir.Input, sizes: Mapping[str, int], params: Mapping) -> tuple[int, ...]:
    env = {**sizes, **params}
    return tuple(int(evaluate(d, env)) for d in decl.dims)


def sample_inputs(spec: ir.Spec, sizes: Mapping[str, int], params: Mapping, seed: int = 0,
                  float_dtype: Optional[torch.dtype] = None, device: str = "cpu") -> dict:
    """A tensor per input. `float_dtype` overrides the declared float dtype (e.g. float64)."""
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for decl in spec.inputs:
        shape = input_shape(decl, sizes, params)
        dtype = _TORCH_DTYPES[decl.dtype]
        if decl.type == ir.FLOAT and float_dtype is not None:
            dtype = float_dtype
        out[decl.name] = _sample(decl, shape, dtype, sizes, generator).to(device)
    return out


def _sample(decl: ir.Input, shape: tuple, dtype: torch.dtype, sizes: Mapping, generator) -> torch.Tensor:
    if decl.type == ir.BOOL:
        return torch.rand(shape, generator=generator) < 0.5
    if decl.type == ir.INT:
        if decl.sorted:
            length = shape[-1] if shape else 1
            starts = torch.rand(shape, generator=generator) < min(0.5, 3.0 / max(length, 1))
            if shape:
                starts[..., 0] = False
            return torch.cumsum(starts.to(torch.int64), dim=-1).to(dtype) if shape else starts.to(dtype)
        high = max(2, sizes.get("N", 8) // 2)
        return torch.randint(0, high, shape, generator=generator).to(dtype)
    values = torch.randn(shape, generator=generator, dtype=torch.float64) * 0.5
    if decl.sorted and shape:
        values = values.sort(dim=-1).values
    return values.to(dtype)
