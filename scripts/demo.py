"""The main job: compile an example, run it forward and backward, and check it independently.

Compiles examples/sliding_window.attn with `attncc compile` (the default backend: Triton forward
and backward kernels; without a GPU they run under Triton's interpreter) into build/, imports
the module, runs it on random inputs with lengths that are not multiples of anything, and
compares output and gradients with PyTorch's scaled_dot_product_attention given the same
mask as an explicit boolean matrix. Then prints `attncc show` for the spec (its simplified
form, derivatives, a picture of the mask, and how many kernel tiles are skipped).
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "examples" / "sliding_window.attn"
OUT = ROOT / "build" / "sliding_window.py"


def attncc(*args):
    subprocess.run([sys.executable, "-m", "attncc", *args], check=True, cwd=ROOT)


def main():
    attncc("compile", str(SPEC), "-o", str(OUT))
    spec = importlib.util.spec_from_file_location("sliding_window", OUT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    B, H, HKV, N, D, window = 2, 4, 2, 129, 64, 17
    g = torch.Generator().manual_seed(0)
    q = torch.randn(B, H, N, D, generator=g, dtype=torch.float64, requires_grad=True)
    k = torch.randn(B, HKV, N, D, generator=g, dtype=torch.float64, requires_grad=True)
    v = torch.randn(B, HKV, N, D, generator=g, dtype=torch.float64, requires_grad=True)
    do = torch.randn(B, H, N, D, generator=g, dtype=torch.float64)

    o = module.attention(q, k, v, window=window)
    grads = torch.autograd.grad(o, (q, k, v), do)

    i = torch.arange(N).view(-1, 1)
    j = torch.arange(N).view(1, -1)
    mask = (j <= i) & (i - j < window)
    ref = F.scaled_dot_product_attention(q, k.repeat_interleave(H // HKV, 1), v.repeat_interleave(H // HKV, 1),
                                         attn_mask=mask)
    ref_grads = torch.autograd.grad(ref, (q, k, v), do)

    print(f"{module.SPEC_NAME}: {module.SPEC_DOC}")
    where = "interpreted on CPU" if module._INTERPRETED else "compiled for the GPU"
    print(f"shapes: q {tuple(q.shape)}, k/v {tuple(k.shape)}, window={window}, float64; "
          f"{module.BACKEND} kernels {where}")
    print(f"max |o - sdpa|   = {(o - ref).abs().max().item():.3e}")
    for name, a, b in zip("qkv", grads, ref_grads):
        print(f"max |d{name} - sdpa| = {(a - b).abs().max().item():.3e}")
    worst = max([(o - ref).abs().max().item()] + [(a - b).abs().max().item() for a, b in zip(grads, ref_grads)])
    print("agreement:", "OK" if worst < 1e-10 else "MISMATCH")
    print()
    attncc("show", str(SPEC), "-N", "32", "--param", "window=6", "--block-m", "8", "--block-n", "8")
    return 0 if worst < 1e-10 else 1


if __name__ == "__main__":
    sys.exit(main())
