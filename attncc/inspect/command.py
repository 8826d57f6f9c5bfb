"""The `attncc inspect` command: its options, the worker process, the table and the JSON."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ..bench.command import dtype_name
from ..checks.samples import sample_params
from ..checks.values import CheckValuesError, resolve, values_from_cli
from ..driver.pipeline import front_end
from .worker import SCHEDULE_ERROR

ARCHES = {"sm80": 80, "sm90": 90, "sm100": 100}
TILE_NAMES = ("block_m", "block_n", "warps", "stages", "chunk")


class InspectUsageError(ValueError):
    """A bad option of attncc inspect; the message names the option and the fix."""


def add_inspect_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", help="the .attn file")
    p.add_argument("--arch", default="sm90", choices=sorted(ARCHES), help="the GPU architecture (default: sm90, H100/H200)")
    p.add_argument("--dtype", type=dtype_name, default="bfloat16", metavar="{bf16,fp16,fp32}",
                   help="q, k, v dtype (default: bf16)")
    p.add_argument("-D", "--head-dim", type=int, default=64, help="D, the q / k head dim (default: 64)")
    p.add_argument("--dv", type=int, default=None, help="DV, the v head dim (default: D)")
    p.add_argument("--shape", default="1,2,4096", metavar="B,H,N[,M[,HKV]]",
                   help="the call whose configs the schedule picks (default: 1,2,4096; M = N, HKV = H)")
    p.add_argument("--tile", default=None, metavar="NAME=VALUE,...",
                   help="a tile config instead of the schedule's: block_m, block_n, warps, stages (chunk, warps "
                        "for linear attention), as kernel_options gives them to both passes")
    p.add_argument("--forward-only", action="store_true", help="only the forward kernels")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="a param's value (others: their defaults)")
    p.add_argument("--json", action="store_true", help="print the report as JSON (schema attncc-inspect/1)")


def _sizes(args) -> dict:
    try:
        parts = [int(x) for x in args.shape.split(",")]
    except ValueError:
        raise InspectUsageError(f"--shape takes B,H,N[,M[,HKV]] as integers; got {args.shape!r}") from None
    if not 3 <= len(parts) <= 5 or min(parts) < 1:
        raise InspectUsageError(f"--shape takes 3 to 5 positive integers B,H,N[,M[,HKV]]; got {args.shape!r}")
    B, H, N = parts[:3]
    M = parts[3] if len(parts) > 3 else N
    HKV = parts[4] if len(parts) > 4 else H
    D = args.head_dim
    DV = args.dv if args.dv is not None else D
    if D < 1 or DV < 1:
        raise InspectUsageError(f"head dims must be positive; got D={D}, DV={DV}")
    if H % HKV:
        raise InspectUsageError(f"--shape: H={H} must be a multiple of HKV={HKV}")
    return {"B": B, "H": H, "HKV": HKV, "N": N, "M": M, "D": D, "DV": DV}


def _tile(text):
    if text is None:
        return None
    options = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in TILE_NAMES or not value.strip().isdigit():
            raise InspectUsageError(f"--tile takes NAME=VALUE pairs with NAME one of {', '.join(TILE_NAMES)}; "
                                    f"got {item!r}")
        options[name] = int(value)
    return options


def run_worker(job: dict) -> dict:
    """The worker's report for `job` (see attncc.inspect.worker); RuntimeError with its stderr."""
    with tempfile.TemporaryDirectory(prefix="attncc-inspect-cache-") as cache:
        # A fresh Triton cache, so that the compile times are compiles, not cache hits.
        env = {**os.environ, "TRITON_INTERPRET": "0", "TRITON_CACHE_DIR": cache}
        result = subprocess.run([sys.executable, "-m", "attncc.inspect.worker"], input=json.dumps(job),
                                capture_output=True, text=True, env=env)
    if result.returncode == SCHEDULE_ERROR:
        raise InspectUsageError(result.stderr.strip().splitlines()[-1])
    if result.returncode != 0:
        raise RuntimeError(f"attncc inspect: compiling for sm{job['capability']} failed:\n{result.stderr.strip()}")
    return json.loads(result.stdout)


def _loads_text(loads: dict) -> str:
    return ", ".join(f"{kind} x{count}" for kind, count in loads.items()) or "-"


def format_report(doc: dict) -> str:
    sizes = doc["sizes"]
    head = (f"attncc inspect {doc['spec']} ({doc['filename']}): {doc['arch']}, {doc['dtype']}, "
            f"D={sizes['D']} DV={sizes['DV']}, B={sizes['B']} H={sizes['H']} HKV={sizes['HKV']} "
            f"N={sizes['N']} M={sizes['M']}; triton {doc['triton']}")
    rows = [("kernel", "pass", "tile", "warps", "stages", "regs", "spills", "smem", "mma", "global loads",
             "main loops: instrs (per score element per thread)", "compile")]
    for k in doc["kernels"]:
        tile = "x".join(str(v) for v in k["tile"].values()) or "-"
        loops = [(f"{loop['path']} " if loop.get("path") else "") + f"{loop['instructions']}"
                 + ("" if loop["per_element"] is None else f" ({loop['per_element']:g})")
                 + (f" [{_loads_text(loop['loads'])}]" if loop["loads"] else "")
                 for loop in k["loops"] if loop["main"]]
        rows.append((k["kernel"], k["pass"], tile, str(k["warps"]), str(k["stages"]), str(k["registers"]),
                     str(k["spill_instructions"]), f"{k['shared_bytes'] / 1024:.1f}K", k["mma"], _loads_text(k["loads"]),
                     ", ".join(loops) or "-", f"{k['compile_seconds']:.1f}s"))
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = [head] + ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.append("spills: STL/LDL instructions; main loops: the loops with an MMA (else every loop), each from "
                 "the target of a backward branch to the branch, with the global loads inside it; full / partial: "
                 "the loop over the tiles the mask allows whole (no masks) / over the others")
    return "\n".join(lines)


def run_inspect(args) -> int:
    path = Path(args.spec)
    try:
        source = path.read_text()
    except OSError as exc:
        raise InspectUsageError(f"cannot read {args.spec}: {exc.strerror or exc}") from None
    spec = front_end(source, str(path))
    try:
        params, _ = resolve(spec, values_from_cli(args.param, None))
        params = sample_params(spec, params)
    except (CheckValuesError, ValueError) as exc:
        raise InspectUsageError(str(exc)) from None
    job = {"source": source, "filename": str(path), "capability": ARCHES[args.arch], "dtype": args.dtype,
           "sizes": _sizes(args), "params": params, "kernel_options": _tile(args.tile),
           "backward": not args.forward_only}
    doc = run_worker(job)
    print(json.dumps(doc, indent=1) if args.json else format_report(doc))
    return 0
