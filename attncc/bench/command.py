"""The `attncc bench` command: its options, and the run that measures every shape (measure.py),
prints the table and writes the JSON and the plot (report.py).

Usage problems raise `BenchUsageError`, whose message names the option and the fix; commands/cli.py
prints it and exits 2.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path
from typing import Optional

from .measure import (BANNER, DEFAULT_CPU_REPS, DEFAULT_OUT, BenchUsageError, Target, bench_shape, bench_shapes,
                    choose_dtype, choose_target, parse_lengths, parse_shape, parse_vs, versions)
from .report import DTYPE_ALIASES, DTYPE_NAMES, SCHEMA, default_stem, format_table, peak_tflops, validate_result, write_plot

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
    parser.add_argument("--dtype", type=dtype_name, default=None, metavar="{bf16,fp16,fp32}",
                        help="q, k, v dtype, also as bfloat16, float16, float32 (default bfloat16 on a GPU, "
                             "float32 under the CPU interpreter, which refuses bfloat16)")
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


def dtype_name(text: str) -> str:
    """float16, bfloat16 or float32 from the name or its short form (bf16, fp16, fp32)."""
    name = DTYPE_ALIASES.get(text.lower(), text.lower())
    if name not in DTYPE_NAMES:
        raise argparse.ArgumentTypeError(f"--dtype takes bf16, fp16 or fp32 (or bfloat16, float16, float32); got {text!r}")
    return name


def _read_spec(path: str):
    """(source, checked spec) of the spec file; raises BenchUsageError for a missing file and
    attncc.SpecError for a bad spec."""
    from ..driver.pipeline import front_end

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
    from ..checks.values import CheckValuesError, resolve, values_from_cli
    from ..checks.samples import sample_params

    try:
        params, inputs = resolve(spec, values_from_cli(args.param, args.input))
        return sample_params(spec, params), inputs
    except (CheckValuesError, ValueError) as exc:
        raise BenchUsageError(str(exc)) from None


def build_document(spec, args, target: Target, dtype: str, vs: tuple, params: dict, given_inputs: dict,
                   shapes: list, peak: Optional[float], peak_source: str) -> dict:
    """The JSON document without rows (run_bench fills rows and flex_block_mask_ms)."""
    inputs = {x.name: (f"given: {given_inputs[x.name].describe()}" if x.name in given_inputs
                       else "sampled (attncc.checks.samples, seed)") for x in spec.inputs}
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
    from ..driver.loader import load
    from .comparators import flex_plan, sdpa_plan
    from ..ir.constfold import is_causal_mask

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
    mod = load(args.spec)
    ref = load(args.spec, backend="torch") if vs else None
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
    from ..runtime.schedule import write_atomic

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
