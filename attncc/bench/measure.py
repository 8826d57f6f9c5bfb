"""`attncc bench`: time a spec's kernels against SDPA and FlexAttention; write JSON and a plot.

For each shape (one per `--lengths` entry), in one process and on the same q, k, v, params and
inputs: the compiled Triton module (`attncc.load`), then the comparators of comparators.py,
each timed forward (`fwd`, under torch.no_grad) and forward + backward (`fwd+bwd`, with a
fixed output gradient). On a GPU the timer is `triton.testing.do_bench` (median); without one
the kernels run under Triton's CPU interpreter, only with `--allow-cpu`, timed with
time.perf_counter, and every report says loudly that the numbers are not kernel performance.

The figures, the JSON document (schema "attncc-bench/1"), the table and the PNG plot of
TFLOP/s against N (matplotlib, the `bench` extra) are report.py's.
docs/benchmarks.md describes all of it for users.

The command line (`attncc bench`) is `add_bench_arguments` + `run_bench`; usage problems raise
`BenchUsageError`, whose message names the option and the fix.
"""

from __future__ import annotations

import os
import platform
import re
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Optional

from .report import COMPARATORS, PASSES, Shape, pass_flops, pct_of_peak, tflops_of

DEFAULT_OUT = "bench/results"
DEFAULT_CPU_REPS = 3
BANNER = ("!" * 78 + "\n"
          "!!! CPU INTERPRETER: these numbers are NOT kernel performance. Triton's interpreter\n"
          "!!! runs the kernels op by op in numpy on the CPU; use them to check that the harness\n"
          "!!! runs, never to compare speed. Run on a GPU for real figures.\n"
          + "!" * 78)
class BenchUsageError(Exception):
    """A bad option or an impossible request; the message names the option and the fix."""


# ---------------------------------------------------------------- shapes

SHAPE_HELP = "B,H,N,D[,M,HKV,DV] (positive integers; M defaults to N, HKV to H, DV to D; e.g. --shape 4,16,4096,128)"


def parse_shape(text: str) -> tuple[Shape, bool]:
    """(the shape of `--shape B,H,N,D[,M,HKV,DV]`, whether M was given).

    Raises BenchUsageError unless there are 4 to 7 positive integers with H a multiple of HKV.
    """
    fields = [f.strip() for f in text.split(",")]
    if not 4 <= len(fields) <= 7 or not all(re.fullmatch(r"[0-9]+", f) for f in fields):
        raise BenchUsageError(f"--shape takes {SHAPE_HELP}; got {text!r}")
    values = [int(f) for f in fields]
    if min(values) < 1:
        raise BenchUsageError(f"--shape sizes must be at least 1; got {text!r}")
    B, H, N, D = values[:4]
    M = values[4] if len(values) > 4 else N
    HKV = values[5] if len(values) > 5 else H
    DV = values[6] if len(values) > 6 else D
    if H % HKV:
        raise BenchUsageError(f"--shape: H={H} must be a multiple of HKV={HKV} (GQA/MQA groups); got {text!r}")
    return Shape(B, H, N, D, M, HKV, DV), len(values) > 4


def parse_lengths(text: str) -> tuple[int, ...]:
    """The lengths of `--lengths 1024,4096,...` (positive integers, in the order given)."""
    fields = [f.strip() for f in text.split(",")]
    if not all(re.fullmatch(r"[0-9]+", f) and int(f) > 0 for f in fields):
        raise BenchUsageError(f"--lengths takes positive integers separated by commas (e.g. --lengths 1024,4096,16384); "
                              f"got {text!r}")
    return tuple(int(f) for f in fields)


def parse_vs(text: str) -> tuple[str, ...]:
    """The comparators of `--vs sdpa,flex` ('none' for none), without repeats, in IMPLS order."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if names == ["none"]:
        return ()
    unknown = [n for n in names if n not in COMPARATORS]
    if unknown or not names:
        raise BenchUsageError(f"--vs takes sdpa, flex or both (sdpa,flex), or none; got {text!r}")
    return tuple(n for n in COMPARATORS if n in names)


def bench_shapes(base: Shape, m_given: bool, lengths: Optional[tuple[int, ...]],
                 tokens: Optional[int]) -> list[Shape]:
    """The shapes to run: `base`, or one per length (N = M = length) with --lengths; with
    --tokens, B = max(1, tokens // N) for each. Raises BenchUsageError for --lengths with a
    cross shape (M != N)."""
    if lengths and m_given and base.M != base.N:
        raise BenchUsageError(f"--lengths sets N and M = N for each length, but --shape gives M={base.M} != N={base.N}; "
                              "give M = N in --shape (or leave M out), or drop --lengths")
    if tokens is not None and tokens < 1:
        raise BenchUsageError(f"--tokens must be at least 1; got {tokens}")
    shapes = []
    for n in lengths or (None,):
        shape = base if n is None else Shape(base.B, base.H, n, base.D, n, base.HKV, base.DV)
        if tokens is not None:
            shape = Shape(max(1, tokens // shape.N), shape.H, shape.N, shape.D, shape.M, shape.HKV, shape.DV)
        shapes.append(shape)
    return shapes


# ---------------------------------------------------------------- where it runs

@dataclass(frozen=True)
class Target:
    """Where the benchmark runs: torch device, its name, whether the Triton kernels are
    interpreted, and the timer's settings."""

    device: str  # "cuda" or "cpu"
    name: str
    interpreter: bool
    cpu_reps: int

    @property
    def timing(self) -> str:
        if self.device == "cuda":
            return "triton.testing.do_bench (median; warmup 25 ms, rep 100 ms) after one untimed call"
        runs = "1 run" if self.cpu_reps == 1 else f"median of {self.cpu_reps} runs"
        return f"time.perf_counter ({runs}) after one untimed call"


def _interpret_requested() -> bool:
    return os.environ.get("TRITON_INTERPRET", "").strip().lower() not in ("", "0", "false", "no", "off")


def choose_target(allow_cpu: bool, cpu_reps: int, command: str = "bench") -> Target:
    """The GPU when there is one; else the CPU interpreter, only with --allow-cpu (raises
    BenchUsageError otherwise, naming `attncc COMMAND`). Sets TRITON_INTERPRET=1 for the CPU
    before any kernel module is loaded."""
    import torch

    if cpu_reps < 1:
        raise BenchUsageError(f"--reps must be at least 1; got {cpu_reps}")
    if torch.cuda.is_available():
        interpreted = _interpret_requested()
        if interpreted and not allow_cpu:
            raise BenchUsageError("TRITON_INTERPRET is set, so the Triton kernels would run under the interpreter; "
                                  "unset it for kernel timings, or pass --allow-cpu to time the interpreter anyway")
        return Target("cuda", torch.cuda.get_device_name(), interpreted, cpu_reps)
    if not allow_cpu:
        raise BenchUsageError(f"no CUDA GPU here: `attncc {command}` times GPU kernels. Pass --allow-cpu to run it "
                              "under Triton's CPU interpreter (to try the command; the numbers are then not "
                              "kernel performance)")
    os.environ.setdefault("TRITON_INTERPRET", "1")
    processor = platform.processor() or platform.machine() or "unknown"
    return Target("cpu", f"cpu ({processor}), Triton interpreter", True, cpu_reps)


def choose_dtype(name: Optional[str], target: Target) -> str:
    """The dtype name: the given one, else bfloat16 on a GPU and float32 under the interpreter.
    Raises BenchUsageError for bfloat16 under the interpreter."""
    if name is None:
        return "float32" if target.interpreter else "bfloat16"
    if name == "bfloat16" and target.interpreter:
        raise BenchUsageError("--dtype bfloat16 cannot run under Triton's CPU interpreter (it computes bfloat16 "
                              "dots wrongly); use --dtype float16 or float32 with --allow-cpu, or run on a GPU")
    return name


def versions() -> dict:
    """The versions the numbers depend on."""
    import torch
    import triton

    from .._version import __version__

    return {"attncc": __version__, "torch": torch.__version__, "triton": triton.__version__,
            "python": platform.python_version(), "cuda": torch.version.cuda}


# ---------------------------------------------------------------- timing

def time_ms(fn: Callable[[], object], target: Target) -> float:
    """Milliseconds per call of `fn`, after one untimed call (compilation, autotuning)."""
    import torch

    fn()
    if target.device == "cuda":
        import triton.testing

        torch.cuda.synchronize()
        return float(triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median"))
    times = []
    for _ in range(target.cpu_reps):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    return sorted(times)[len(times) // 2]


@dataclass
class Problem:
    """One shape's tensors: q, k, v (leaves that require grad), the fixed output gradient, the
    spec's params and inputs (learnable float inputs require grad), sizes."""

    shape: Shape
    q: object
    k: object
    v: object
    dout: object
    params: dict
    inputs: dict

    def learnables(self, spec) -> list:
        return [self.inputs[x.name] for x in spec.learnable_inputs if self.inputs[x.name].requires_grad]


def timed_pass(attention: Callable, problem: Problem, which: str, target: Target, extra_leaves=()) -> float:
    """ms of one pass of `attention(q, k, v) -> o`: `fwd` under torch.no_grad, `fwd+bwd` the
    forward and `o.backward(dout)` (gradients cleared before each call)."""
    import torch

    q, k, v = problem.q, problem.k, problem.v
    if which == "fwd":
        q, k, v = q.detach(), k.detach(), v.detach()  # FlexAttention refuses inputs that require grad on CPU

        def run():
            with torch.no_grad():
                attention(q, k, v)
    else:
        leaves = [q, k, v, *extra_leaves]

        def run():
            for leaf in leaves:
                leaf.grad = None
            attention(q, k, v).backward(problem.dout)
    return time_ms(run, target)


# ---------------------------------------------------------------- inputs

_INPUT_TORCH_DTYPES = {"float32": "float32", "float16": "float16", "bfloat16": "bfloat16",
                       "int32": "int32", "int64": "int64", "bool": "bool"}


def _given_input(decl, given, shape: tuple, generator):
    """The tensor for an input the user gave with --input (a value everywhere, or uniform draws
    from [low, high); sorted inputs sorted along the last dim)."""
    import torch

    from .. import ir

    dtype = getattr(torch, _INPUT_TORCH_DTYPES[decl.dtype])
    if given.fill is not None:
        return torch.full(shape, given.fill, dtype=dtype)
    if decl.type == ir.INT:
        values = torch.randint(int(given.low), max(int(given.high), int(given.low) + 1), shape, generator=generator)
    else:
        values = given.low + (given.high - given.low) * torch.rand(shape, generator=generator, dtype=torch.float64)
    if decl.sorted and len(shape):
        values = values.sort(dim=-1).values
    return values.to(dtype)


def make_problem(spec, shape: Shape, params: dict, given_inputs: dict, dtype_name: str, device: str,
                 seed: int) -> Problem:
    """Random q, k, v (standard normal, `dtype_name`), a fixed output gradient, and the spec's
    inputs: the given ones (--input), the rest from attncc.checks.samples; all on `device`."""
    import torch

    from .. import ir
    from ..checks.samples import input_shape, sample_inputs

    dtype = getattr(torch, dtype_name)
    sizes = shape.sizes()
    inputs = sample_inputs(spec, sizes, params, seed=seed)
    generator = torch.Generator().manual_seed(seed + 1)
    for decl in spec.inputs:
        if decl.name in given_inputs:
            inputs[decl.name] = _given_input(decl, given_inputs[decl.name], input_shape(decl, sizes, params), generator)
    inputs = {name: t.to(device) for name, t in inputs.items()}
    for decl in spec.learnable_inputs:
        if decl.type == ir.FLOAT:
            inputs[decl.name].requires_grad_(True)
    torch.manual_seed(seed)

    def randn(*dims):
        return torch.randn(*dims, device=device, dtype=dtype)

    q = randn(shape.B, shape.H, shape.N, shape.D).requires_grad_(True)
    k = randn(shape.B, shape.HKV, shape.M, shape.D).requires_grad_(True)
    v = randn(shape.B, shape.HKV, shape.M, shape.DV).requires_grad_(True)
    return Problem(shape, q, k, v, randn(shape.B, shape.H, shape.N, shape.DV), dict(params), inputs)


# ---------------------------------------------------------------- one shape

@dataclass
class Measured:
    """A pass's time (None when not measured) and its note."""

    ms: Optional[float]
    note: str


def _failure(exc: BaseException) -> str:
    """A one-line note for a measurement that raised."""
    first = (str(exc).strip().splitlines() or [""])[0]
    if len(first) > 300:
        first = first[:297] + "..."
    if "out of memory" in first.lower():
        return f"failed: out of memory ({type(exc).__name__})"
    return f"failed: {type(exc).__name__}: {first}"


def _measure(attention: Callable, problem: Problem, which: str, target: Target, note: str,
             extra_leaves=()) -> Measured:
    """Measured time with `note`, or no time with the failure first in the note (a failed pass
    does not stop the benchmark; the CUDA cache is emptied after it)."""
    try:
        return Measured(timed_pass(attention, problem, which, target, extra_leaves), note)
    except Exception as exc:  # recorded in the row; the other rows still run
        if target.device == "cuda":
            import torch

            torch.cuda.empty_cache()
        return Measured(None, "; ".join(n for n in (_failure(exc), note) if n))


def attncc_passes(spec, mod, problem: Problem, target: Target) -> dict:
    """{pass: Measured} for the compiled Triton module (learnable inputs' gradients included)."""
    learnables = problem.learnables(spec)

    def attention(q, k, v):
        return mod.attention(q, k, v, **problem.params, **problem.inputs)

    note = ("FLOPs by the softmax convention; linear attention does O(N·D·DV) work per head"
            if spec.is_linear else "")
    out = {"fwd": _measure(attention, problem, "fwd", target, note)}
    bwd_note = note
    if learnables:
        names = ", ".join(x.name for x in spec.learnable_inputs)
        bwd_note = "; ".join(n for n in (note, f"includes the gradients of the learnable inputs ({names})") if n)
    out["fwd+bwd"] = _measure(attention, problem, "fwd+bwd", target, bwd_note, learnables)
    return out


def _fixed_inputs_note(spec) -> str:
    if spec.learnable_inputs:
        return "learnable inputs held fixed (no gradient for them)"
    return ""


def sdpa_passes(spec, ref, problem: Problem, target: Target) -> dict:
    """{pass: Measured} for SDPA, or n/a rows with the reason it cannot compute the spec."""
    from .comparators import make_sdpa, sdpa_plan

    plan = sdpa_plan(spec)
    if not plan.supported:
        return {p: Measured(None, plan.describe()) for p in PASSES}
    note = "; ".join(n for n in (plan.describe(), _fixed_inputs_note(spec)) if n)
    try:
        attention = make_sdpa(plan, ref, problem.shape.sizes(), problem.params, problem.inputs,
                              problem.q.dtype, target.device)
    except Exception as exc:  # e.g. the dense mask does not fit in memory
        return {p: Measured(None, f"{_failure(exc)}; {note}") for p in PASSES}
    out = {p: _measure(attention, problem, p, target, note) for p in PASSES}
    del attention
    return out


def flex_passes(spec, ref, problem: Problem, target: Target) -> tuple[dict, Measured]:
    """({pass: Measured}, the block mask's creation time) for FlexAttention: torch.compile'd on a
    GPU; eager and forward only on CPU (FlexAttention has no CPU backward)."""
    from .comparators import flex_plan, make_flex

    plan = flex_plan(spec)
    if not plan.supported:
        return {p: Measured(None, plan.describe()) for p in PASSES}, Measured(None, plan.describe())
    compiled = target.device == "cuda"
    how = "torch.compile(flex_attention)" if compiled else "eager flex_attention (unfused, CPU)"
    note = "; ".join(n for n in (f"{plan.describe()}, {how}", _fixed_inputs_note(spec)) if n)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            run = make_flex(plan, spec, ref, problem.shape.sizes(), problem.params, problem.inputs,
                            problem.q.dtype, target.device, compiled, block_mask_reps=3 if compiled else 1)
    except Exception as exc:
        failed = f"{_failure(exc)}; {note}"
        return {p: Measured(None, failed) for p in PASSES}, Measured(None, failed)
    block = (Measured(run.block_mask_ms, "create_block_mask (eager), median of the timed calls")
             if plan.mask else Measured(None, "no mask: no block mask to create"))
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out["fwd"] = _measure(run.fn, problem, "fwd", target, note)
        if compiled:
            out["fwd+bwd"] = _measure(run.fn, problem, "fwd+bwd", target, note)
        else:
            out["fwd+bwd"] = Measured(None, "n/a: FlexAttention has no backward on CPU")
    return out, block


def bench_shape(spec, mod, ref, shape: Shape, args, target: Target, dtype: str, params: dict,
                given_inputs: dict, peak: Optional[float], vs: tuple) -> tuple[list[dict], Optional[dict]]:
    """(the rows of one shape, its flex_block_mask_ms entry or None) for attncc and each of `vs`."""
    problem = make_problem(spec, shape, params, given_inputs, dtype, target.device, args.seed)
    results = {"attncc": attncc_passes(spec, mod, problem, target)}
    block = None
    if "sdpa" in vs:
        results["sdpa"] = sdpa_passes(spec, ref, problem, target)
    if "flex" in vs:
        results["flex"], block = flex_passes(spec, ref, problem, target)
    rows = []
    for impl, passes in results.items():
        for which, measured in passes.items():
            flops = pass_flops(shape, which, args.causal_flops)
            tflops = tflops_of(flops, measured.ms)
            rows.append({**shape.as_json(), "impl": impl, "pass": which, "flops": flops, "ms": measured.ms,
                         "tflops": tflops, "pct_peak": pct_of_peak(tflops, peak), "note": measured.note})
    entry = None
    if block is not None:
        entry = {"B": shape.B, "H": shape.H, "N": shape.N, "M": shape.M, "ms": block.ms, "note": block.note}
    if target.device == "cuda":
        import torch

        del problem
        torch.cuda.empty_cache()
    return rows, entry
