"""`attncc inspect --json` over the gallery: what every example compiles to on an H200, offline.

For each examples/*.attn (or --specs), each head dim (--dims, default 64 and 128) and dtype
(--dtype, default bf16): the kernels of the forward and the backward with the schedule's H200
configs, into OUT/SPEC_DTYPE_D{D}_sm90.json (schema attncc-inspect/1, plus the date), then
OUT/summary_sm90.json: per run the kernels' registers, spills, MMA kind, global-load kinds in
the main loops and main-loop instructions per score element per thread.

    .venv/bin/python scripts/inspect_gallery.py                      # into bench/inspect/
    .venv/bin/python scripts/inspect_gallery.py --specs causal,alibi --dims 128

No GPU is used or needed. A run takes seconds to a minute per spec (2-D masks compile longest).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from attncc.inspect.command import InspectUsageError, run_worker  # noqa: E402
from attncc.checks.samples import sample_params  # noqa: E402
from attncc.driver.pipeline import front_end  # noqa: E402


def summary_row(doc: dict) -> dict:
    kernels = []
    for k in doc["kernels"]:
        main = [loop for loop in k["loops"] if loop["main"]]
        kernels.append({
            "kernel": k["kernel"], "tile": k["tile"], "warps": k["warps"], "stages": k["stages"],
            "registers": k["registers"], "spill_instructions": k["spill_instructions"], "mma": k["mma"],
            "main_loop_loads": sorted({kind for loop in main for kind in loop["loads"]}),
            "main_loop_per_element": [loop["per_element"] for loop in main],
        })
    return {"spec": doc["spec"], "dtype": doc["dtype"], "D": doc["sizes"]["D"], "kernels": kernels}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--specs", help="comma-separated example names (default: every example)")
    parser.add_argument("--dims", default="64,128", help="head dims (default: 64,128)")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--shape", default="1,2,4096", help="B,H,N of the call the schedule configures")
    parser.add_argument("--out", default=str(ROOT / "bench" / "inspect"))
    args = parser.parse_args(argv)
    names = args.specs.split(",") if args.specs else sorted(p.stem for p in (ROOT / "examples").glob("*.attn"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    B, H, N = (int(x) for x in args.shape.split(","))
    rows, failed = [], 0
    for name in names:
        path = ROOT / "examples" / f"{name}.attn"
        source = path.read_text()
        spec = front_end(source, str(path))
        for D in (int(d) for d in args.dims.split(",")):
            job = {"source": source, "filename": f"examples/{name}.attn", "capability": 90, "dtype": args.dtype,
                   "sizes": {"B": B, "H": H, "HKV": H, "N": N, "M": N, "D": D, "DV": D},
                   "params": sample_params(spec), "kernel_options": None, "backward": True}
            try:
                doc = run_worker(job)
            except (InspectUsageError, RuntimeError) as exc:  # a config that does not fit, a failed compile
                failed += 1
                print(f"FAIL {name} D={D}: {str(exc).splitlines()[-1]}", flush=True)
                rows.append({"spec": name, "dtype": args.dtype, "D": D, "error": str(exc)[-2000:]})
                continue
            doc["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            (out / f"{name}_{args.dtype}_D{D}_sm90.json").write_text(json.dumps(doc, indent=1) + "\n")
            rows.append(summary_row(doc))
            print(f"ok   {name} D={D}: " + "; ".join(
                f"{k['kernel']} {k['registers']} regs {k['mma']} {k['main_loop_per_element']}"
                for k in rows[-1]["kernels"]), flush=True)
    # The summary covers every report in OUT (this run's and earlier runs'), and the configs
    # that did not fit, from this run or, when not rerun, from the previous summary.
    previous = out / "summary_sm90.json"
    errors = {(r["spec"], r["D"], r["dtype"]): r for r in rows if "error" in r}
    if previous.exists():
        for r in json.loads(previous.read_text())["runs"]:
            key = (r["spec"], r["D"], r["dtype"])
            if "error" in r and key not in errors and not any(x["spec"] == r["spec"] and x["D"] == r["D"] for x in rows):
                errors[key] = r
    reports = [summary_row(json.loads(path.read_text())) for path in sorted(out.glob("*_sm90.json"))
               if path.name != previous.name]
    summary = {"schema": "attncc-inspect-summary/1", "arch": "sm90",
               "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "runs": sorted(reports + list(errors.values()), key=lambda r: (r["spec"], r["D"]))}
    previous.write_text(json.dumps(summary, indent=1) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
