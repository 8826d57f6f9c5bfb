"""Every example compiles with the reference backend and passes float64 gradcheck.

Gradients are checked for q, k, v and every learnable input, on small shapes with GQA and
D != DV (and N != M wherever the spec allows it), with params at their defaults and inputs
sampled to respect their declarations.
"""

import pytest
import torch

import attncc
from attncc.driver.pipeline import front_end
from attncc.ir.constfold import is_causal_mask
from attncc.checks.samples import sample_inputs, sample_params
from conftest import EXAMPLES


def shapes_for(spec):
    cross = not (spec.is_linear and is_causal_mask(spec.mask))
    return {"B": 1, "H": 2, "HKV": 1, "N": 9, "M": 11 if cross else 9, "D": 4, "DV": 3}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_gradcheck(example):
    spec = front_end(example.read_text(), str(example))
    mod = attncc.load(example, backend="torch")
    sizes = shapes_for(spec)
    params = sample_params(spec)
    inputs = sample_inputs(spec, sizes, params, seed=1, float_dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    make = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64).requires_grad_()
    q = make(sizes["B"], sizes["H"], sizes["N"], sizes["D"])
    k = make(sizes["B"], sizes["HKV"], sizes["M"], sizes["D"])
    v = make(sizes["B"], sizes["HKV"], sizes["M"], sizes["DV"])
    learnable = [x.name for x in spec.learnable_inputs]
    for name in learnable:
        inputs[name].requires_grad_()

    def run(q, k, v, *learned):
        return mod.attention(q, k, v, **params, **{**inputs, **dict(zip(learnable, learned))})

    args = (q, k, v, *[inputs[n] for n in learnable])
    out = run(*args)
    assert out.shape == (sizes["B"], sizes["H"], sizes["N"], sizes["DV"])
    assert torch.isfinite(out).all()
    assert torch.autograd.gradcheck(run, args)
