"""The benchmark sweep for a GPU session: attncc against SDPA and FlexAttention.

Six specs (causal, dense, sliding_window with window 1024, alibi, softcap, document_causal),
head dims 64 and 128, N = M = 1k, 4k, 16k at a constant 16k tokens (B = 16384 // N) and
H = 2048 // D heads (FlashAttention's benchmark setting), bfloat16, forward and forward +
backward. Each (spec, D) is one `attncc bench` run (attncc/bench/) writing
OUT/SPEC_DTYPE_D{D}_DEVICE.json and .png; then the sweep checks every JSON against the schema
and writes OUT/sweep_DEVICE.json (the runs and their status) and OUT/sweep_DEVICE.png (one panel
per spec and D).

    .venv/bin/python scripts/bench_sweep.py                       # all 12 runs, into bench/results/
    .venv/bin/python scripts/bench_sweep.py --specs causal,alibi --dims 128
    .venv/bin/python scripts/bench_sweep.py --dry-run             # the `attncc bench` commands only
    .venv/bin/python scripts/bench_sweep.py --allow-cpu --lengths 16,32 --dims 16 --heads 2 \\
        --tokens 32 --out /tmp/sweep                              # the harness on CPU (not performance)

A GPU command may be cut off (the device tool allows 10 minutes a command): split the sweep
with --specs / --dims. The summary covers this invocation's runs and every earlier run of the
grid whose JSON is in OUT, so the last split's summary and plot cover them all.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from attncc.bench.measure import BenchUsageError, choose_dtype, choose_target  # noqa: E402
from attncc.bench.command import add_bench_arguments, run_bench  # noqa: E402
from attncc.bench.report import PLOT_HINT, device_slug, draw_panel, import_figure, result_problems  # noqa: E402

SWEEP_SCHEMA = "attncc-bench-sweep/1"
# spec -> the options its run needs besides the common ones. --causal-flops for every mask
# that is causal at heart (the usual convention; a window or documents do even less work).
SPECS = {
    "causal": ["--causal-flops"],
    "dense": [],
    "sliding_window": ["--param", "window=1024", "--causal-flops"],
    "alibi": ["--input", "slopes=0.0039:0.5", "--causal-flops"],  # ALiBi's slopes lie in [2^-8, 2^-1]
    "softcap": ["--causal-flops"],
    "document_causal": ["--causal-flops"],
}
DIMS = (64, 128)
LENGTHS = (1024, 4096, 16384)
TOKENS = 16384
HIDDEN = 2048  # H = HIDDEN // D


def _int_list(text: str, option: str) -> tuple[int, ...]:
    try:
        values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise SystemExit(f"bench_sweep: {option} takes integers separated by commas; got {text!r}") from None
    if not values or min(values) < 1:
        raise SystemExit(f"bench_sweep: {option} takes positive integers; got {text!r}")
    return values


def sweep_runs(specs, dims, lengths, tokens: int, heads, dtype: str, vs: str, out: str, allow_cpu: bool,
               tag: str) -> list[tuple[str, int, list[str]]]:
    """[(spec, D, the `attncc bench` arguments)] of the sweep, in order."""
    runs = []
    for name in specs:
        for d in dims:
            h = heads or max(1, HIDDEN // d)
            argv = [str(ROOT / "examples" / f"{name}.attn"), "--shape", f"1,{h},{lengths[0]},{d}",
                    "--lengths", ",".join(map(str, lengths)), "--tokens", str(tokens), "--dtype", dtype,
                    "--vs", vs, "--out", out, "--name", f"{name}_{dtype}_D{d}_{tag}", *SPECS[name]]
            if allow_cpu:
                argv.append("--allow-cpu")
            runs.append((name, d, argv))
    return runs


def summarize(out: Path, tag: str, runs) -> dict:
    """The sweep's own document: each run's JSON file, whether it exists and follows the schema,
    and its problems."""
    entries = []
    for name, d, argv in runs:
        stem = argv[argv.index("--name") + 1]
        path = out / f"{stem}.json"
        entry = {"spec": name, "D": d, "json": path.name, "png": f"{stem}.png", "problems": []}
        if not path.is_file():
            entry["problems"] = ["not written"]
        else:
            entry["problems"] = result_problems(json.loads(path.read_text()))
        entries.append(entry)
    return {"schema": SWEEP_SCHEMA, "device": tag,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "runs": entries}


def plot_sweep(out: Path, summary: dict, path: Path) -> str:
    """One panel per run (specs down, dims across); returns what was done."""
    Figure = import_figure()
    if Figure is None:
        return f"sweep plot skipped: matplotlib is not installed ({PLOT_HINT})"
    good = [e for e in summary["runs"] if not e["problems"]]
    if not good:
        return "sweep plot skipped: no valid run"
    specs = list(dict.fromkeys(e["spec"] for e in good))
    dims = sorted({e["D"] for e in good})
    fig = Figure(figsize=(5.5 * len(dims), 3.8 * len(specs)))
    for e in good:
        doc = json.loads((out / e["json"]).read_text())
        ax = fig.add_subplot(len(specs), len(dims), specs.index(e["spec"]) * len(dims) + dims.index(e["D"]) + 1)
        title = f"{e['spec']}, D={e['D']}, {doc['dtype']}"
        if doc["interpreter"]:
            title += " (CPU INTERPRETER: not performance)"
        draw_panel(ax, doc, title)
    fig.suptitle(f"attncc vs SDPA vs FlexAttention on {summary['device']}")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / (3.8 * len(specs))))
    fig.savefig(path, dpi=110)
    return f"wrote {path}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--specs", default=",".join(SPECS), help=f"comma-separated, from {', '.join(SPECS)}")
    parser.add_argument("--dims", default=",".join(map(str, DIMS)), help="head dims D (default 64,128)")
    parser.add_argument("--lengths", default=",".join(map(str, LENGTHS)), help="N = M (default 1024,4096,16384)")
    parser.add_argument("--tokens", type=int, default=TOKENS, help=f"B = tokens // N (default {TOKENS})")
    parser.add_argument("--heads", type=int, default=None, help=f"H (default {HIDDEN} // D)")
    parser.add_argument("--dtype", default=None, choices=("bfloat16", "float16", "float32"),
                        help="default bfloat16 (float32 under the CPU interpreter, which refuses bfloat16)")
    parser.add_argument("--vs", default="sdpa,flex")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--allow-cpu", action="store_true", help="run under the CPU interpreter (not performance)")
    parser.add_argument("--dry-run", action="store_true", help="print the attncc bench commands and stop")
    args = parser.parse_args(argv)
    specs = [s.strip() for s in args.specs.split(",") if s.strip()]
    unknown = [s for s in specs if s not in SPECS]
    if unknown:
        raise SystemExit(f"bench_sweep: unknown spec(s) {unknown}; choose from {', '.join(SPECS)}")
    dims, lengths = _int_list(args.dims, "--dims"), _int_list(args.lengths, "--lengths")
    try:
        target = choose_target(args.allow_cpu or args.dry_run, 1)
        dtype = choose_dtype(args.dtype, target) if not args.dry_run else args.dtype or "bfloat16"
    except BenchUsageError as exc:
        raise SystemExit(f"bench_sweep: {exc}") from None
    tag = device_slug(target.name, target.interpreter)
    runs = sweep_runs(specs, dims, lengths, args.tokens, args.heads, dtype, args.vs, args.out,
                      args.allow_cpu, tag)
    if args.dry_run:
        for _, _, run_argv in runs:
            print("attncc bench " + " ".join(run_argv))
        return 0
    bench_parser = argparse.ArgumentParser(prog="attncc bench")
    add_bench_arguments(bench_parser)
    status = 0
    for name, d, run_argv in runs:
        print(f"=== {name}, D={d}", flush=True)
        try:
            status |= run_bench(bench_parser.parse_args(run_argv))
        except BenchUsageError as exc:
            print(f"bench_sweep: {name} D={d}: {exc}", file=sys.stderr)
            status = 1
    out = Path(args.out)
    done = {(name, d) for name, d, _ in runs}
    grid = sweep_runs(list(SPECS), sorted(set(DIMS) | set(dims)), lengths, args.tokens, args.heads, dtype,
                      args.vs, args.out, args.allow_cpu, tag)
    earlier = [r for r in grid if (r[0], r[1]) not in done and (out / f"{r[2][r[2].index('--name') + 1]}.json").is_file()]
    summary = summarize(out, tag, runs + earlier)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"sweep_{tag}.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {out / f'sweep_{tag}.json'}")
    print(plot_sweep(out, summary, out / f"sweep_{tag}.png"))
    bad = [e for e in summary["runs"] if e["problems"]]
    for e in bad:
        print(f"bench_sweep: {e['json']}: {'; '.join(e['problems'])}", file=sys.stderr)
    return 1 if bad else status


if __name__ == "__main__":
    sys.exit(main())
