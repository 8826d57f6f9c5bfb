"""`attncc tune`, `attncc tune --show` and `attncc compile --tuned`: the attncc side of tuning.

The rules (the space, pruning, the cache file and its keys) live in attncc/runtime/schedule.py, which
every generated Triton module carries; tuning runs inside the module (ATTNCC_AUTOTUNE's code
path, forced), so what `attncc tune` measures and stores is exactly what a later call reads.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Callable, Optional

import torch

from ..runtime import schedule
from ..bench.measure import Target, make_problem
from ..bench.report import Shape

@dataclass
class Winner:
    kernel: str
    key: str
    config: dict
    ms: float
    candidates: int


def tune_module(mod, problem, backward: bool, max_configs: Optional[int] = None,
                progress: Optional[Callable] = None) -> list[Winner]:
    """Tune the forward (and with `backward` the backward) kernel of a generated module on one
    call (a bench.Problem), keep the winners in the tuning cache and return them. Forces the
    module's own autotuning path for the duration of the call."""
    saved = (mod._AUTOTUNE, mod._TUNE_LIMIT, mod._TUNE_PROGRESS)
    mod._AUTOTUNE, mod._TUNE_LIMIT, mod._TUNE_PROGRESS = "always", max_configs, progress
    mod._CHOSEN.clear()  # measure afresh even if this process tuned the bucket before
    kwargs = {**problem.params, **problem.inputs}
    try:
        if backward:
            mod.attention(problem.q, problem.k, problem.v, **kwargs).backward(problem.dout)
        else:
            with torch.no_grad():
                mod.attention(problem.q, problem.k, problem.v, **kwargs)
    finally:
        mod._AUTOTUNE, mod._TUNE_LIMIT, mod._TUNE_PROGRESS = saved
    entries = mod._cache_entries()
    winners = []
    for key, (config, source) in mod.chosen_tiles().items():
        if source == "tuned now" and key in entries:
            e = entries[key]
            winners.append(Winner(schedule.key_fields(key)["kernel"], key, config, e["ms"], e["candidates"]))
    return sorted(winners, key=lambda w: schedule.KERNELS.index(w.kernel))


class ProgressBar:
    """One line per kernel on a terminal (redrawn), one line per config elsewhere."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.best = None
        self.start = time.perf_counter()

    def __call__(self, i, n, config, ms, error):
        if ms is not None and (self.best is None or ms < self.best):
            self.best = ms
        filled = round(24 * i / n)
        outcome = f"{ms:.4f} ms" if error is None else f"failed: {error[:60]}"
        best = f"best {self.best:.4f} ms" if self.best is not None else "none ran yet"
        line = (f"[{'#' * filled}{'.' * (24 - filled)}] {i}/{n} {schedule.describe(config)}: {outcome} "
                f"({best}, {time.perf_counter() - self.start:.1f} s)")
        if self.tty:
            self.stream.write("\r\033[K" + line + ("\n" if i == n else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        if i == n:  # the next kernel starts afresh
            self.best, self.start = None, time.perf_counter()


def show_cache(path: Optional[str] = None, spec_hash: Optional[str] = None) -> str:
    """The cache's entries as a table (those of one spec with `spec_hash`), stale ones marked."""
    import triton

    path = path or schedule.cache_path()
    entries, problem = schedule.read_cache(path)
    lines = [f"tuning cache: {path}"]
    if problem:
        lines.append(f"warning: {problem}")
    rows = []
    for key in sorted(entries):
        f = schedule.key_fields(key)
        if spec_hash and f["spec"] != spec_hash[:16]:
            continue
        e = entries[key]
        stale = "" if f["triton"] == triton.__version__ else f"  (stale: triton {f['triton']}, installed {triton.__version__})"
        rows.append(f"{e.get('spec', '?'):<18} {f['spec'][:8]} {f['kernel']:<8} {f['device']:<24} {f['dtype']:<8} "
                    f"D={f['D']:<4} DV={f['DV']:<4} N<={f['N']:<6} M<={f['M']:<6} "
                    f"{schedule.describe(e['config'])}  {e.get('ms', float('nan')):.4f} ms{stale}")
    lines += rows or ["(no entries" + (" for this spec)" if spec_hash else ")")]
    return "\n".join(lines)


def tuned_for(spec_hash: str, path: Optional[str] = None) -> dict:
    """The cache's configs for one spec, to compile in: {key without its triton version: config};
    where several triton versions tuned the same point, the newest entry wins."""
    entries, _ = schedule.read_cache(path or schedule.cache_path())
    chosen = {}
    for key in sorted(entries, key=lambda k: entries[k].get("date", "")):
        if schedule.key_fields(key)["spec"] == spec_hash[:16]:
            chosen[key.rsplit("|", 1)[0]] = dict(entries[key]["config"])
    return chosen


CPU_BANNER = ("*** CPU INTERPRETER: no GPU here, so these configs ran under Triton's interpreter. The times say "
              "nothing about kernel speed; the winners are kept for the interpreter only. ***")


def run_tune(spec, source: str, shape: Shape, dtype: str, target: Target, backward: bool, params: dict,
             given_inputs: dict, max_configs: Optional[int]) -> int:
    """`attncc tune`: tune one checked spec at one shape on `target` (bench.choose_target) in
    `dtype` (bench.choose_dtype) and print the winners. Returns the exit status."""
    from ..driver.loader import load

    if target.interpreter:
        print(CPU_BANNER, file=sys.stderr)
    mod = load(source, backend="triton")
    problem = make_problem(spec, shape, params, given_inputs, dtype, target.device, seed=0)
    sizes = shape.sizes()
    text = ",".join(f"{n}={sizes[n]}" for n in ("B", "H", "HKV", "N", "M", "D", "DV"))
    kernels = "forward and backward kernels" if backward else "forward kernel"
    print(f"tuning {spec.name} at {text} {dtype} on {target.name}: the {kernels}", file=sys.stderr)
    try:
        winners = tune_module(mod, problem, backward, max_configs, ProgressBar())
    except schedule.ScheduleError as exc:
        print(f"attncc tune: {exc}", file=sys.stderr)
        return 1
    for w in winners:
        print(f"{w.kernel:<8} {schedule.describe(w.config)}  {w.ms:.4f} ms  (best of {w.candidates})")
    print(f"kept in {schedule.cache_path()} for {spec.name}, this device and dtype, D={shape.D} DV={shape.DV}, "
          f"N<={schedule.length_bucket(shape.N)} M<={schedule.length_bucket(shape.M)}")
    return 0
