"""`attncc bench`: time a spec's kernels against SDPA and FlexAttention; write JSON and a plot.

For each shape (one per `--lengths` entry), in one process and on the same q, k, v, params and
inputs: the compiled Triton module (`attncc.load`), then the comparators of attncc/comparators.py,
each timed forward (`fwd`, under torch.no_grad) and forward + backward (`fwd+bwd`, with a
fixed output gradient). On a GPU the timer is `triton.testing.do_bench` (median); without one
the kernels run under Triton's CPU interpreter, only with `--allow-cpu`, timed with
time.perf_counter, and every report says loudly that the numbers are not kernel performance.

Figures (TESTING.md's convention): forward FLOPs 2·B·H·N·M·(D + DV) (= 4·B·H·N·M·D when
D == DV), halved with --causal-flops; backward 2.5× forward, so fwd+bwd is 3.5× forward;
TFLOP/s = FLOPs / time; % of peak against `peak_tflops` (a small table by device name and
dtype, or --peak). The JSON document (schema "attncc-bench/1", `validate_result`) holds the
device, versions, date, spec, shapes and every row; the PNG plots TFLOP/s against N (needs
matplotlib, the `bench` extra). docs/benchmarks.md describes all of it for users.

The command line (`attncc bench`) is `add_bench_arguments` + `run_bench`; usage problems raise
`BenchUsageError`, whose message names the option and the fix.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import re
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

SCHEMA = "attncc-bench/1"
IMPLS = ("attncc", "sdpa", "flex")
COMPARATORS = ("sdpa", "flex")
PASSES = ("fwd", "fwd+bwd")
DTYPE_NAMES = ("float16", "bfloat16", "float32")
DEFAULT_OUT = "bench/results"
DEFAULT_CPU_REPS = 3
BACKWARD_FACTOR = 2.5  # backward FLOPs per forward FLOP (two matmuls for dq/dk plus dv, dp recompute)
BANNER = ("!" * 78 + "\n"
          "!!! CPU INTERPRETER: these numbers are NOT kernel performance. Triton's interpreter\n"
          "!!! runs the kernels op by op in numpy on the CPU; use them to check that the harness\n"
          "!!! runs, never to compare speed. Run on a GPU for real figures.\n"
          + "!" * 78)
PLOT_HINT = "pip install 'attncc[bench]'"

# (device name contains, dtypes, peak TFLOP/s, where the figure comes from); first match wins.
PEAKS = (
    ("H200", ("bfloat16", "float16"), 790.0,
     "H200 measured dense bf16 matmul peak (TESTING.md)"),
    ("H100", ("bfloat16", "float16"), 790.0,
     "taken as the H200's measured dense bf16 peak (same GH100 compute; TESTING.md); use --peak for a PCIe H100"),
    ("A100", ("bfloat16", "float16"), 312.0, "A100 datasheet dense bf16/fp16 tensor-core peak"),
    ("H200", ("float32",), 67.0, "H100/H200 SXM datasheet FP32 (non-tensor-core): attncc's fp32 dots are IEEE, not TF32"),
    ("H100", ("float32",), 67.0, "H100 SXM datasheet FP32 (non-tensor-core): attncc's fp32 dots are IEEE, not TF32"),
    ("A100", ("float32",), 19.5, "A100 datasheet FP32 (non-tensor-core): attncc's fp32 dots are IEEE, not TF32"),
)


class BenchUsageError(Exception):
    """A bad option or an impossible request; the message names the option and the fix."""


# ---------------------------------------------------------------- shapes

@dataclass(frozen=True)
class Shape:
    """One benchmark shape: q [B, H, N, D], k [B, HKV, M, D], v [B, HKV, M, DV]."""

    B: int
    H: int
    N: int
    D: int
    M: int
    HKV: int
    DV: int

    def sizes(self) -> dict:
        """The size symbols of the spec language, by name."""
        return {"B": self.B, "H": self.H, "HKV": self.HKV, "N": self.N, "M": self.M, "D": self.D, "DV": self.DV}

    def as_json(self) -> dict:
        return {"B": self.B, "H": self.H, "HKV": self.HKV, "N": self.N, "M": self.M, "D": self.D, "DV": self.DV}


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


# ---------------------------------------------------------------- figures

def forward_flops(shape: Shape, causal: bool = False) -> float:
    """Forward FLOPs by TESTING.md's convention: 2·B·H·N·M·D for q·kᵀ plus 2·B·H·N·M·DV for
    p·v (= 4·B·H·N·M·D when D == DV), halved when `causal`."""
    flops = 2.0 * shape.B * shape.H * shape.N * shape.M * (shape.D + shape.DV)
    return flops / 2.0 if causal else flops


def pass_flops(shape: Shape, which: str, causal: bool = False) -> float:
    """FLOPs of one timed pass: `fwd` is the forward; `fwd+bwd` the forward plus a backward of
    BACKWARD_FACTOR (2.5) forwards, i.e. 3.5 forwards."""
    if which not in PASSES:
        raise ValueError(f"pass must be one of {PASSES}; got {which!r}")
    fwd = forward_flops(shape, causal)
    return fwd if which == "fwd" else fwd * (1.0 + BACKWARD_FACTOR)


def tflops_of(flops: float, ms: Optional[float]) -> Optional[float]:
    """TFLOP/s of `flops` done in `ms` milliseconds (None when there is no time)."""
    if ms is None or ms <= 0:
        return None
    return flops / (ms * 1e-3) / 1e12


def peak_tflops(device: str, dtype: str, override: Optional[float] = None) -> tuple[Optional[float], str]:
    """(peak TFLOP/s, where it comes from) for a device name and dtype name; (None, why) when
    the device is not in PEAKS and no --peak was given."""
    if override is not None:
        return float(override), "given with --peak"
    for name, dtypes, peak, source in PEAKS:
        if name.lower() in device.lower() and dtype in dtypes:
            return peak, source
    return None, f"unknown for {device} / {dtype}: give --peak TFLOPS for a % of peak"


def pct_of_peak(tflops: Optional[float], peak: Optional[float]) -> Optional[float]:
    """tflops as a percentage of peak (None when either is unknown)."""
    if tflops is None or not peak:
        return None
    return 100.0 * tflops / peak


# ---------------------------------------------------------------- the JSON document

TOP_KEYS = {
    "schema": str, "device": str, "interpreter": bool, "peak_tflops": (float, type(None)),
    "peak_source": str, "versions": dict, "date": str, "spec": dict, "dtype": str,
    "causal_flops": bool, "vs": list, "params": dict, "inputs": dict, "timing": str, "env": dict,
    "shapes": list, "rows": list, "flex_block_mask_ms": list, "tiles": list,
}
VERSION_KEYS = ("attncc", "torch", "triton", "python", "cuda")
SPEC_KEYS = ("name", "path", "hash")
SIZE_KEYS = ("B", "H", "HKV", "N", "M", "D", "DV")
ROW_KEYS = SIZE_KEYS + ("impl", "pass", "flops", "ms", "tflops", "pct_peak", "note")
BLOCK_MASK_KEYS = ("B", "H", "N", "M", "ms", "note")


def _number(value, allow_none: bool = True) -> bool:
    if value is None:
        return allow_none
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _row_problems(index: int, row, causal: bool) -> list[str]:
    """What is wrong with rows[index] (empty when nothing)."""
    where = f"rows[{index}]"
    if not isinstance(row, dict):
        return [f"{where} is not an object"]
    problems = []
    if set(row) != set(ROW_KEYS):
        missing, extra = sorted(set(ROW_KEYS) - set(row)), sorted(set(row) - set(ROW_KEYS))
        return [f"{where}: keys differ from the schema (missing {missing}, unknown {extra})"]
    problems += [f"{where}.{k} must be a positive int; got {row[k]!r}" for k in SIZE_KEYS if not _positive_int(row[k])]
    if row["impl"] not in IMPLS:
        problems.append(f"{where}.impl must be one of {IMPLS}; got {row['impl']!r}")
    if row["pass"] not in PASSES:
        problems.append(f"{where}.pass must be one of {PASSES}; got {row['pass']!r}")
    for key in ("ms", "tflops", "pct_peak"):
        if not _number(row[key]) or (row[key] is not None and row[key] < 0):
            problems.append(f"{where}.{key} must be a non-negative number or null; got {row[key]!r}")
    if not isinstance(row["note"], str):
        problems.append(f"{where}.note must be a string")
    if problems:
        return problems
    shape = Shape(row["B"], row["H"], row["N"], row["D"], row["M"], row["HKV"], row["DV"])
    if row["flops"] != pass_flops(shape, row["pass"], causal):
        problems.append(f"{where}.flops is {row['flops']}; the convention gives {pass_flops(shape, row['pass'], causal)}")
    if row["ms"] is None:
        if row["tflops"] is not None or row["pct_peak"] is not None:
            problems.append(f"{where}: no time (ms null) but tflops / pct_peak set")
        if not row["note"]:
            problems.append(f"{where}: no time (ms null) needs a note saying why")
    else:
        expected = tflops_of(row["flops"], row["ms"])
        if row["tflops"] is None or not math.isclose(row["tflops"], expected, rel_tol=1e-6):
            problems.append(f"{where}.tflops is {row['tflops']}; flops / ms gives {expected}")
    return problems


def result_problems(doc) -> list[str]:
    """Everything in `doc` that does not follow the "attncc-bench/1" schema (empty: valid)."""
    if not isinstance(doc, dict):
        return ["the document is not a JSON object"]
    problems = []
    missing, extra = sorted(set(TOP_KEYS) - set(doc)), sorted(set(doc) - set(TOP_KEYS))
    if missing or extra:
        problems.append(f"top-level keys differ from the schema (missing {missing}, unknown {extra})")
    for key, kind in TOP_KEYS.items():
        if key in doc and not (isinstance(doc[key], kind) and not (kind is not bool and isinstance(doc[key], bool))):
            problems.append(f"{key} has the wrong type: {type(doc[key]).__name__}")
    if problems:
        return problems
    if doc["schema"] != SCHEMA:
        problems.append(f"schema is {doc['schema']!r}, not {SCHEMA!r}")
    if sorted(doc["versions"]) != sorted(VERSION_KEYS):
        problems.append(f"versions must have exactly {list(VERSION_KEYS)}; got {sorted(doc['versions'])}")
    if sorted(doc["spec"]) != sorted(SPEC_KEYS) or not all(isinstance(v, str) for v in doc["spec"].values()):
        problems.append(f"spec must be {{{', '.join(SPEC_KEYS)}}} strings; got {doc['spec']!r}")
    try:
        datetime.datetime.fromisoformat(doc["date"])
    except ValueError:
        problems.append(f"date is not ISO 8601: {doc['date']!r}")
    if doc["dtype"] not in DTYPE_NAMES:
        problems.append(f"dtype must be one of {DTYPE_NAMES}; got {doc['dtype']!r}")
    if not set(doc["vs"]) <= set(COMPARATORS):
        problems.append(f"vs lists unknown comparators: {doc['vs']!r}")
    if doc["peak_tflops"] is not None and not doc["peak_tflops"] > 0:
        problems.append(f"peak_tflops must be positive or null; got {doc['peak_tflops']!r}")
    for i, shape in enumerate(doc["shapes"]):
        if not isinstance(shape, dict) or sorted(shape) != sorted(SIZE_KEYS) or \
                not all(_positive_int(v) for v in shape.values()):
            problems.append(f"shapes[{i}] must be {{{', '.join(SIZE_KEYS)}}} positive ints; got {shape!r}")
    for i, row in enumerate(doc["rows"]):
        problems += _row_problems(i, row, doc["causal_flops"])
    for i, entry in enumerate(doc["tiles"]):
        if not isinstance(entry, dict) or sorted(entry) != ["config", "key", "source"] \
                or not isinstance(entry["config"], dict) or not isinstance(entry["source"], str):
            problems.append(f"tiles[{i}] must be {{key, config, source}}; got {entry!r}")
    for i, entry in enumerate(doc["flex_block_mask_ms"]):
        if not isinstance(entry, dict) or sorted(entry) != sorted(BLOCK_MASK_KEYS) or not _number(entry["ms"]) \
                or not isinstance(entry["note"], str) or (entry["ms"] is None and not entry["note"]):
            problems.append(f"flex_block_mask_ms[{i}] must be {{{', '.join(BLOCK_MASK_KEYS)}}} with ms a number "
                            f"(or null with a note); got {entry!r}")
    return problems


def validate_result(doc) -> None:
    """Raise ValueError listing every way `doc` breaks the "attncc-bench/1" schema."""
    problems = result_problems(doc)
    if problems:
        raise ValueError("not an attncc-bench/1 document: " + "; ".join(problems))


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


def choose_target(allow_cpu: bool, cpu_reps: int) -> Target:
    """The GPU when there is one; else the CPU interpreter, only with --allow-cpu (raises
    BenchUsageError otherwise). Sets TRITON_INTERPRET=1 for the CPU before any kernel module
    is loaded."""
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
        raise BenchUsageError("no CUDA GPU here: `attncc bench` times GPU kernels. Pass --allow-cpu to run it "
                              "under Triton's CPU interpreter (to check the harness; the numbers are then not "
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

    from . import __version__

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

    from . import ir

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
    inputs: the given ones (--input), the rest from attncc.samples; all on `device`."""
    import torch

    from . import ir
    from .samples import input_shape, sample_inputs

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


# ---------------------------------------------------------------- report

def _cell(value: Optional[float], form: str, none: str) -> str:
    return none if value is None else form.format(value)


def format_table(doc: dict) -> str:
    """The rows as a text table; long notes become numbered footnotes."""
    notes: list[str] = []
    header = f"{'B':>3} {'N':>7} {'M':>7}  {'impl':<7}{'pass':<9}{'ms':>11}{'TFLOP/s':>10}{'% peak':>8}  note"
    lines = [header, "-" * len(header)]
    unknown_peak = doc["peak_tflops"] is None
    for row in doc["rows"]:
        mark = ""
        if row["note"]:
            if row["note"] not in notes:
                notes.append(row["note"])
            mark = f"[{notes.index(row['note']) + 1}]"
        pct = "-" if row["ms"] is None else ("?" if unknown_peak else _cell(row["pct_peak"], "{:.1f}", "?"))
        lines.append(f"{row['B']:>3} {row['N']:>7} {row['M']:>7}  {row['impl']:<7}{row['pass']:<9}"
                     f"{_cell(row['ms'], '{:.4g}', 'n/a'):>11}{_cell(row['tflops'], '{:.4g}', '-'):>10}{pct:>8}  {mark}")
    lines += [f"  [{i + 1}] {note}" for i, note in enumerate(notes)]
    for entry in doc["flex_block_mask_ms"]:
        lines.append(f"flex create_block_mask at B={entry['B']} N={entry['N']} M={entry['M']}: "
                     f"{_cell(entry['ms'], '{:.4g} ms', 'n/a')} ({entry['note']})")
    return "\n".join(lines)


def device_slug(device: str, interpreter: bool) -> str:
    """A file-name form of the device: "cpu-interpreter", or the GPU's name ("nvidia-h200")."""
    if interpreter:
        return "cpu-interpreter" if device.startswith("cpu") else "interpreter"
    return re.sub(r"[^a-z0-9]+", "-", device.lower()).strip("-") or "gpu"


def default_stem(doc: dict) -> str:
    """SPEC_DTYPE_D{D}_DEVICE: the default file name (without suffix) of the JSON and PNG."""
    dims = sorted({s["D"] for s in doc["shapes"]})
    return f"{doc['spec']['name']}_{doc['dtype']}_D{'-'.join(map(str, dims))}_{device_slug(doc['device'], doc['interpreter'])}"


def import_figure():
    """matplotlib's Figure class, or None when matplotlib is not installed. The object API is
    used (no pyplot), so no global backend is switched."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure


def plot_series(doc: dict) -> dict:
    """{(impl, pass): [(N, TFLOP/s), ...]} of the measured rows, N ascending."""
    series: dict = {}
    for row in doc["rows"]:
        if row["tflops"] is not None:
            series.setdefault((row["impl"], row["pass"]), []).append((row["N"], row["tflops"]))
    return {key: sorted(points) for key, points in series.items()}


def draw_panel(ax, doc: dict, title: str) -> None:
    """One plot of TFLOP/s against N (log2 axis), a line per impl and pass."""
    styles = {"attncc": "tab:blue", "sdpa": "tab:orange", "flex": "tab:green"}
    lengths = sorted({row["N"] for row in doc["rows"]})
    for (impl, which), points in plot_series(doc).items():
        xs, ys = zip(*points)
        ax.plot(xs, ys, marker="o" if which == "fwd" else "s", color=styles[impl], linestyle="-" if which == "fwd" else "--",
                label=f"{impl} {which}")
    if lengths:
        ax.set_xscale("log", base=2)
        ax.set_xticks(lengths)
        ax.set_xticklabels([str(n) for n in lengths])
    ax.set_xlabel("N (query length)")
    ax.set_ylabel("TFLOP/s" + (" (causal convention)" if doc["causal_flops"] else ""))
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


def write_plot(doc: dict, path: Path) -> Optional[str]:
    """Write the TFLOP/s-against-N plot of `doc` to `path` (PNG). Returns None when written, else
    why it was skipped (matplotlib missing, nothing measured)."""
    Figure = import_figure()
    if Figure is None:
        return f"plot skipped: matplotlib is not installed ({PLOT_HINT}, or pip install matplotlib)"
    if not plot_series(doc):
        return "plot skipped: no row has a time"
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot(1, 1, 1)
    dims = ", ".join(f"D={d}" for d in sorted({s["D"] for s in doc["shapes"]}))
    title = f"{doc['spec']['name']}: {doc['dtype']}, {dims}, {doc['device']}"
    if doc["interpreter"]:
        title += "\nCPU INTERPRETER: NOT kernel performance"
    draw_panel(ax, doc, title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return None


# ---------------------------------------------------------------- the command

def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `attncc bench` (see docs/benchmarks.md)."""
    parser.add_argument("spec", help="the .attn file")
    parser.add_argument("--shape", default="1,16,1024,64", metavar="B,H,N,D[,M,HKV,DV]",
                        help="q [B,H,N,D], k [B,HKV,M,D], v [B,HKV,M,DV]; M defaults to N, HKV to H, DV to D "
                             "(default 1,16,1024,64)")
    parser.add_argument("--lengths", metavar="N1,N2,...",
                        help="run each length (N = M = length) instead of --shape's N and M; the plot is TFLOP/s "
                             "against these")
    parser.add_argument("--tokens", type=int, metavar="T",
                        help="batch B = max(1, T // N) for each length instead of --shape's B (constant tokens)")
    parser.add_argument("--dtype", choices=DTYPE_NAMES, default=None,
                        help="q, k, v dtype (default bfloat16 on a GPU, float32 under the CPU interpreter, "
                             "which refuses bfloat16)")
    parser.add_argument("--causal-flops", action="store_true",
                        help="halve the FLOP count (the convention for causal masks)")
    parser.add_argument("--vs", default="sdpa,flex", metavar="sdpa,flex",
                        help="comparators run on the same inputs: sdpa, flex, both, or none (default sdpa,flex)")
    parser.add_argument("--param", action="append", metavar="NAME=VALUE",
                        help="a param's value (e.g. --param window=1024); others take their defaults")
    parser.add_argument("--input", action="append", metavar="NAME=VALUE|LOW:HIGH",
                        help="an input's values: one value everywhere, or uniform draws from [LOW, HIGH) "
                             "(others are sampled as attncc show does)")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                        help=f"folder for the JSON and PNG (default {DEFAULT_OUT})")
    parser.add_argument("--name", metavar="STEM",
                        help="file name (without suffix) of the JSON and PNG (default SPEC_DTYPE_D{D}_DEVICE)")
    parser.add_argument("--peak", type=float, metavar="TFLOPS",
                        help="the device's peak TFLOP/s for %% of peak (default: a table of known GPUs)")
    parser.add_argument("--allow-cpu", action="store_true",
                        help="without a GPU, run under Triton's CPU interpreter (checks the harness; the numbers "
                             "are NOT kernel performance)")
    parser.add_argument("--reps", type=int, default=DEFAULT_CPU_REPS,
                        help=f"CPU interpreter only: timed runs per pass (default {DEFAULT_CPU_REPS}); a GPU uses "
                             "do_bench's own count")
    parser.add_argument("--seed", type=int, default=0, help="seed of q, k, v and the sampled inputs (default 0)")


def _read_spec(path: str):
    """(source, checked spec) of the spec file; raises BenchUsageError for a missing file and
    attncc.SpecError for a bad spec."""
    from .compiler import front_end

    try:
        source = Path(path).read_text()
    except FileNotFoundError:
        raise BenchUsageError(f"no such spec file: {path}") from None
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise BenchUsageError(f"cannot read {path}: {exc}") from None
    return source, front_end(source, path)


def param_and_input_values(spec, args) -> tuple[dict, dict]:
    """(every param's value, the given inputs' InputValues) from --param / --input; raises
    BenchUsageError naming the option."""
    from .check_values import CheckValuesError, resolve, values_from_cli
    from .samples import sample_params

    try:
        params, inputs = resolve(spec, values_from_cli(args.param, args.input))
        return sample_params(spec, params), inputs
    except (CheckValuesError, ValueError) as exc:
        raise BenchUsageError(str(exc)) from None


def build_document(spec, args, target: Target, dtype: str, vs: tuple, params: dict, given_inputs: dict,
                   shapes: list, peak: Optional[float], peak_source: str) -> dict:
    """The JSON document without rows (run_bench fills rows and flex_block_mask_ms)."""
    inputs = {x.name: (f"given: {given_inputs[x.name].describe()}" if x.name in given_inputs
                       else "sampled (attncc.samples, seed)") for x in spec.inputs}
    return {
        "schema": SCHEMA, "device": target.name, "interpreter": target.interpreter,
        "peak_tflops": peak, "peak_source": peak_source, "versions": versions(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "spec": {"name": spec.name, "path": str(args.spec), "hash": spec.source_hash},
        "dtype": dtype, "causal_flops": bool(args.causal_flops), "vs": list(vs),
        "params": params, "inputs": inputs, "timing": target.timing,
        "env": {name: os.environ.get(name) for name in ("ATTNCC_AUTOTUNE", "TRITON_INTERPRET")},
        "shapes": [s.as_json() for s in shapes], "rows": [], "flex_block_mask_ms": [], "tiles": [],
    }


def _say(text: str = "") -> None:
    print(text, flush=True)


def run_bench(args) -> int:
    """`attncc bench`: measure, print the table, write OUT/STEM.json and OUT/STEM.png.

    Returns 0 when every attncc pass was measured, 1 when one failed (its note says why;
    comparator failures are recorded but do not change the status). Raises BenchUsageError
    for bad options, attncc.SpecError for a bad spec.
    """
    import attncc
    from .comparators import flex_plan, sdpa_plan
    from .constfold import is_causal_mask

    base, m_given = parse_shape(args.shape)
    shapes = bench_shapes(base, m_given, parse_lengths(args.lengths) if args.lengths else None, args.tokens)
    vs = parse_vs(args.vs)
    if args.peak is not None and not args.peak > 0:
        raise BenchUsageError(f"--peak must be a positive number of TFLOP/s; got {args.peak}")
    target = choose_target(args.allow_cpu, args.reps)  # first: it sets TRITON_INTERPRET for the CPU
    _, spec = _read_spec(args.spec)
    params, given_inputs = param_and_input_values(spec, args)
    dtype = choose_dtype(args.dtype, target)
    peak, peak_source = peak_tflops(target.name, dtype, args.peak)
    if target.interpreter:
        _say(BANNER)
    mod = attncc.load(args.spec)
    ref = attncc.load(args.spec, backend="torch") if vs else None
    doc = build_document(spec, args, target, dtype, vs, params, given_inputs, shapes, peak, peak_source)
    _say(f"attncc bench: {spec.name} ({args.spec}) on {target.name}, {dtype}; timing: {target.timing}")
    _say(f"peak: {'?' if peak is None else f'{peak:g} TFLOP/s'} ({peak_source})")
    if is_causal_mask(spec.mask) and not args.causal_flops:
        _say("hint: the mask is causal; --causal-flops gives the usual (halved) causal FLOP count")
    for name, plan in (("sdpa", sdpa_plan), ("flex", flex_plan)):
        if name in vs and not plan(spec).supported:
            _say(f"{name}: {plan(spec).describe()}")
    for shape in shapes:
        _say(f"  B={shape.B} H={shape.H} HKV={shape.HKV} N={shape.N} M={shape.M} D={shape.D} DV={shape.DV} ...")
        rows, block = bench_shape(spec, mod, ref, shape, args, target, dtype, params, given_inputs, peak, vs)
        doc["rows"] += rows
        if block is not None:
            doc["flex_block_mask_ms"].append(block)
    doc["tiles"] = [{"key": key, "config": config, "source": source}
                    for key, (config, source) in mod.chosen_tiles().items()]
    validate_result(doc)
    return _report(doc, args)


def _report(doc: dict, args) -> int:
    """Print the table, write the JSON and the plot, and give the exit status."""
    from .writing import write_atomic

    _say(format_table(doc))
    stem = args.name or default_stem(doc)
    out = Path(args.out)
    json_path, png_path = out / f"{stem}.json", out / f"{stem}.png"
    write_atomic(json_path, json.dumps(doc, indent=2) + "\n")
    _say(f"wrote {json_path}")
    skipped = write_plot(doc, png_path)
    _say(skipped if skipped else f"wrote {png_path}")
    if doc["interpreter"]:
        _say(BANNER)
    failed = [r for r in doc["rows"] if r["impl"] == "attncc" and r["ms"] is None]
    if failed:
        print(f"attncc bench: {len(failed)} attncc measurement(s) failed; see the notes above", file=sys.stderr)
        return 1
    return 0
