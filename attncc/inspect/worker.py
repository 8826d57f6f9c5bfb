"""The process behind `attncc inspect`: TRITON_INTERPRET=0, one job as JSON on stdin, the
report as JSON on stdout (attncc.inspect.command starts it; Triton's mode is chosen once per
process, when it is first imported, so the command's own process cannot compile for a GPU).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

SCHEMA = "attncc-inspect/1"
SCHEDULE_ERROR = 3  # exit status: the schedule refused the tile config (its message on stderr)


def _tile_of(constants: dict) -> dict:
    return {key.lower(): constants[key] for key in ("BLOCK_M", "BLOCK_N", "CHUNK") if key in constants}


def _elements_per_thread(tile: dict, warps: int):
    """Score elements of one tile per thread (softmax family), None for the linear kernels."""
    if "block_m" in tile and "block_n" in tile:
        return tile["block_m"] * tile["block_n"] / (32 * warps)
    return None


def loop_paths(context, kernel: str):
    """The tile paths of a softmax kernel's main loops in program order, from the loop plan the
    templates generate them from (codegen/triton_softmax.py, loop_plan: "full", "partial",
    "dense", "tested"); None for other kernels. `context`: the spec's softmax template context."""
    if context is None or kernel not in ("_fwd_kernel", "_bwd_q_kernel", "_bwd_kv_kernel"):
        return None
    loops = context["query_loops" if kernel == "_bwd_kv_kernel" else "key_loops"]
    return [path for plan in loops["plan"] for path in plan["paths"]]


def inspect_job(job: dict) -> dict:
    """Compile every kernel of the job's spec and read it (see attncc.inspect)."""
    import torch
    import triton

    from ..checks.samples import sample_inputs, sample_params
    from ..codegen.triton_softmax import softmax_context
    from ..driver.loader import load
    from ..driver.pipeline import analyse, front_end
    from .gpu import compile_launch
    from .record import record_passes
    from .sass import read_cubin

    spec = front_end(job["source"], job["filename"])
    analysed = analyse(spec)
    context = None if spec.is_linear else softmax_context(analysed)
    module = load(job["source"], backend="triton")
    sizes, capability = job["sizes"], job["capability"]
    params = sample_params(spec, job["params"])
    inputs = sample_inputs(spec, sizes, params, seed=0)
    dtype = getattr(torch, job["dtype"])
    launches = record_passes(module, spec, dtype, sizes, params, inputs, capability, job.get("kernel_options"),
                             job.get("backward", True))
    kernels = []
    for launch in launches:
        compiled = compile_launch(launch, capability)
        report = read_cubin(compiled.cubin)
        tile = _tile_of(launch.constants)
        per_thread = _elements_per_thread(tile, compiled.num_warps)
        main = [loop for loop in report.loops if loop.mma] or list(report.loops)
        paths = loop_paths(context, launch.kernel.fn.__name__)
        # Labelled only when the loops found are the loops generated (ptxas keeps their order).
        path_of = {loop.start: path for loop, path in zip(main, paths)} if paths and len(paths) == len(main) else {}
        kernels.append({
            "kernel": launch.kernel.fn.__name__, "pass": launch.pass_name, "tile": tile,
            "warps": compiled.num_warps, "stages": compiled.num_stages, "registers": report.registers,
            "spill_instructions": report.spill_instructions, "local_bytes": report.local,
            "shared_bytes": compiled.shared, "mma": report.mma_kind, "loads": report.loads,
            "instructions": report.instructions, "elements_per_thread": per_thread,
            "loops": [dict(dataclasses.asdict(loop), main=loop in main, path=path_of.get(loop.start),
                           per_element=None if per_thread is None else round(loop.instructions / per_thread, 2))
                      for loop in report.loops],
            "compile_seconds": compiled.seconds,
        })
    return {"schema": SCHEMA, "spec": spec.name, "filename": job["filename"], "arch": f"sm{capability}",
            "dtype": job["dtype"], "sizes": sizes, "params": params, "kernel_options": job.get("kernel_options"),
            "triton": triton.__version__, "kernels": kernels}


def main() -> int:
    if os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):
        print("attncc inspect's worker needs TRITON_INTERPRET=0", file=sys.stderr)
        return 2
    job = json.load(sys.stdin)
    try:
        doc = inspect_job(job)
    except Exception as exc:
        if type(exc).__name__ != "ScheduleError":  # the generated module's: configs that do not fit
            raise
        print(str(exc), file=sys.stderr)
        return SCHEDULE_ERROR
    json.dump(doc, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
