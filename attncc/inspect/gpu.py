"""Compile one recorded launch for an NVIDIA GPU, as Triton's JIT would for that launch.

The arguments go through Triton's own binder, so 16-byte aligned pointers and divisible ints get
the JIT's specialization (`tt.divisibility`), unit strides become constants, and the launch's
constexprs and `num_warps` / `num_stages` are kept; then `triton.compile` for
GPUTarget("cuda", capability, 32) runs down to a cubin with the ptxas of Triton's wheel.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource, make_backend
from triton.runtime.jit import create_function_from_signature

from .record import Launch


@dataclass(frozen=True)
class Compiled:
    cubin: bytes
    shared: int
    num_warps: int
    num_stages: int
    seconds: float


def compile_launch(launch: Launch, capability: int) -> Compiled:
    """The cubin of `launch`'s kernel for sm_<capability>, with its metadata."""
    kernel = launch.kernel
    target = GPUTarget("cuda", capability, 32)
    backend = make_backend(target)
    binder = create_function_from_signature(kernel.signature, kernel.params, backend)
    bound, specialization, options = binder(*launch.args, **launch.constants)
    options, signature, constexprs, attrs = kernel._pack_args(backend, launch.constants, bound, specialization, options)
    start = time.perf_counter()
    chosen = {"num_warps": options.num_warps, "num_stages": options.num_stages}
    if "enable_fp_fusion" in launch.constants:
        chosen["enable_fp_fusion"] = launch.constants["enable_fp_fusion"]
    compiled = triton.compile(ASTSource(kernel, signature, constexprs, attrs), target=target, options=chosen)
    seconds = time.perf_counter() - start
    return Compiled(cubin=compiled.asm["cubin"], shared=int(compiled.metadata.shared),
                    num_warps=options.num_warps, num_stages=options.num_stages, seconds=round(seconds, 2))
