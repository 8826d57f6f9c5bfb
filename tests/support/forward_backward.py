"""One forward and backward pass of a generated module, with every output and gradient by name."""

import torch


def forward_backward(mod, spec, q, k, v, params, inputs, do, dlse=None, **options):
    """o (and lse for softmax specs) and the gradients of q, k, v and each learnable input under
    the loss sum(o * do) + sum(lse * dlse) (finite lse only; dlse None: all ones).

    The gradient of a tensor the result does not depend on is None under torch autograd and
    zeros from the kernels; both come back as zeros.
    """
    q, k, v = (t.detach().clone().requires_grad_() for t in (q, k, v))
    learnable = [x.name for x in spec.learnable_inputs]
    inputs = {n: (t.detach().clone().requires_grad_() if n in learnable else t) for n, t in inputs.items()}
    softmax = spec.norm.kind == "softmax"
    result = mod.attention(q, k, v, **params, **inputs, return_lse=softmax, **options)
    o, lse = result if softmax else (result, None)
    loss = (o.double() * do).sum()
    if softmax:
        finite = torch.where(torch.isfinite(lse), lse.double(), 0.0)
        loss = loss + (finite.sum() if dlse is None else finite.mul(dlse).sum())
    loss.backward()
    out = {"o": o.detach(), "dq": q.grad, "dk": k.grad, "dv": v.grad}
    if softmax:
        out["lse"] = lse.detach()
    out.update({f"d{n}": inputs[n].grad for n in learnable})
    like = {"dq": q, "dk": k, "dv": v, **{f"d{n}": inputs[n] for n in learnable}}
    return {n: torch.zeros_like(like[n]) if g is None else g for n, g in out.items()}
