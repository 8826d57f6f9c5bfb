"""Compile a spec's generated Triton kernels for an NVIDIA GPU target, without a GPU.

Run as a script in a process where TRITON_INTERPRET is 0 (the interpreter accepts code that the
compiler rejects: scalar/tensor mixes, dtype changes across branches, constexpr misuse):

    python tests/support/compile_for_gpu.py SPEC.attn [dtype ...] [D=96] [DV=80]

It loads the triton module, records the launches of a forward and a backward pass on CPU
tensors instead of running them, and compiles each recorded kernel with `triton.compile` for
sm_90 down to a cubin (Triton ships ptxas), and checks its shared memory fits an sm_90 block.
Prints one line per kernel; exits 1 on any failure.
"""

import os
import sys

os.environ["TRITON_INTERPRET"] = "0"

import torch  # noqa: E402
import triton  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.compiler import ASTSource  # noqa: E402

import attncc  # noqa: E402
from attncc.driver.pipeline import front_end  # noqa: E402
from attncc.checks.samples import sample_inputs, sample_params  # noqa: E402

TYPE_CODES = {torch.float16: "fp16", torch.bfloat16: "bf16", torch.float32: "fp32", torch.float64: "fp64",
              torch.int32: "i32", torch.int64: "i64", torch.uint8: "u8", torch.bool: "i1"}
TARGET = GPUTarget("cuda", 90, 32)
SHARED_MEMORY_LIMIT = 232448  # bytes per block on sm_90 (227 KiB): more cannot launch


def signature_of(kernel, args, constants):
    names = kernel.arg_names
    signature, constexprs = {}, {}
    for name, value in zip(names, args):
        if isinstance(value, torch.Tensor):
            signature[name] = "*" + TYPE_CODES[value.dtype]
        elif isinstance(value, bool):
            signature[name] = "i1"
        elif isinstance(value, int):
            signature[name] = "i32" if -2**31 <= value < 2**31 else "i64"
        else:
            signature[name] = "fp32"
    for name, value in constants.items():
        if name in names:
            signature[name] = "constexpr"
            constexprs[name] = value
    missing = [n for n in names if n not in signature]
    if missing:
        raise RuntimeError(f"{kernel.fn.__name__}: no value recorded for {missing}")
    return signature, constexprs


def main(path, dtypes, D=64, DV=64):
    mod = attncc.load(path, backend="triton")
    spec = front_end(open(path).read(), path)
    launches = []
    mod._check_device = lambda q: None
    mod._device_of = lambda q: ("NVIDIA H200", mod.ARCHITECTURES[90])  # the configs an H200 would get
    mod._launch = lambda kernel, grid, args, constants: launches.append((kernel, args, dict(constants)))
    sizes = {"B": 1, "H": 2, "HKV": 1, "N": 40, "M": 40, "D": D, "DV": DV}
    params = sample_params(spec)
    failed = False
    for dtype in dtypes:
        inputs = sample_inputs(spec, sizes, params, seed=0)
        learn = [x.name for x in spec.learnable_inputs]
        for name in learn:
            inputs[name].requires_grad_()
        q = torch.zeros(1, 2, 40, D, dtype=dtype, requires_grad=True)
        k = torch.zeros(1, 1, 40, D, dtype=dtype, requires_grad=True)
        v = torch.zeros(1, 1, 40, DV, dtype=dtype, requires_grad=True)
        stateful = hasattr(mod, "step")  # causal linear attention: also with a state in and out
        variants = 2 if learn and mod.FAMILY != "linear" else 1  # deterministic=True: softmax family only
        for deterministic, state in [(False, False), (True, False)][:variants] + [(False, True)] * stateful:
            launches.clear()
            if state:
                features = 1 + D + D * D if spec.is_taylor2 else D
                s0 = torch.zeros(1, 2, features, DV + (mod.NORM == "sum"), requires_grad=True)
                out, s1 = mod.attention(q, k, v, **params, **inputs, initial_state=s0, return_state=True)
                (out.float().sum() + s1.sum()).backward()
            else:
                out = mod.attention(q, k, v, **params, **inputs, deterministic=deterministic)
                out.float().sum().backward()
            for kernel, args, constants in launches:
                options = {key: constants.pop(key) for key in ("num_warps", "num_stages") if key in constants}
                label = f"{kernel.fn.__name__} {str(dtype)[6:]} D={D} DV={DV} deterministic={deterministic}" + \
                    (" with state" if state else "")
                try:
                    signature, constexprs = signature_of(kernel, args, constants)
                    compiled = triton.compile(ASTSource(kernel, signature, constexprs), target=TARGET, options=options)
                    shared = compiled.metadata.shared
                    if shared > SHARED_MEMORY_LIMIT:
                        raise RuntimeError(f"needs {shared} bytes of shared memory; sm_90 has {SHARED_MEMORY_LIMIT}")
                    print(f"ok   {label} shared={shared}")
                except Exception as exc:  # report every kernel, then fail
                    failed = True
                    print(f"FAIL {label}: {type(exc).__name__}: {exc}")
    return 1 if failed else 0


if __name__ == "__main__":
    sizes = dict(arg.split("=") for arg in sys.argv[2:] if "=" in arg)
    chosen = [getattr(torch, name) for name in sys.argv[2:] if "=" not in name] or [torch.float16]
    sys.exit(main(sys.argv[1], chosen, **{k: int(v) for k, v in sizes.items()}))
