"""How tight attncc/runtime/schedule.py's resource estimates are against bench/calibration/resources.json.

    python tests/support/resource_fit.py [resources.json]

For each kernel, architecture and dtype class it prints estimate / measured shared memory (max,
median; also over the records of 32 KiB and more), and how the register rule (more than 255
live values per thread: certain spills) compares with the spills ptxas reported. Exits 1 when an
estimate falls under a measurement. The data come from tests/support/calibrate_resources.py;
tests/test_schedule.py asserts the same bounds.
"""

import json
import sys
from pathlib import Path

from attncc.runtime import schedule

ROOT = Path(__file__).resolve().parents[2]

PART_OF_KERNEL = {"_fwd_kernel": "fwd", "_bwd_preprocess_kernel": "bwd_pre", "_bwd_kv_kernel": "bwd_kv",
                  "_bwd_q_kernel": "bwd_q", "_lin_fwd_kernel": "lin_fwd", "_lin_bwd_kernel": "lin_bwd"}
ELSIZE = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}
CALIBRATION = ROOT / "bench" / "calibration" / "resources.json"


def _median(values):
    values = sorted(values)
    return values[len(values) // 2] if values else float("nan")


def estimated_records(path=CALIBRATION):
    """[(record, estimated shared bytes, estimated live registers)] for every config that compiled."""
    out = []
    for r in json.loads(Path(path).read_text())["records"]:
        if not r.get("ok") or r.get("specialized") is False:  # failures; points compiled without the JIT's attributes
            continue
        config = {"block_m": r["block_m"], "block_n": r["block_n"] or 16, "chunk": r["chunk"], "warps": r["num_warps"]}
        if r["kernel"] == "_bwd_q_kernel":  # its BLOCK_M query rows are the config's block_n
            config.update(block_m=config["block_n"], block_n=config["block_m"])
        dims = (r["block_d"] or 16, r["block_dv"], ELSIZE[r["dtype"]])
        part = PART_OF_KERNEL[r["kernel"]]
        in_shared = schedule.ARCHITECTURES[r["arch"]][0] in schedule.SHARED_OPERAND_ARCHITECTURES
        out.append((r, schedule.part_shared(part, config, dims),
                    schedule.part_live_registers(part, config, dims, operands_in_shared=in_shared)))
    return out


def main(path):
    records = estimated_records(path)
    groups, under, spills = {}, [], {}
    for r, shared, live in records:
        groups.setdefault((r["kernel"], r["arch"], "16-bit" if ELSIZE[r["dtype"]] == 2 else "32-bit+"), []).append((r, shared))
        if shared < r["shared"]:
            under.append(f"{r['kernel']} sm{r['arch']} {r['dtype']} D={r['D']}: {r['shared']} > {shared}")
        if r.get("registers") is not None:
            pruned = live > schedule.MAX_REGISTERS
            outcome = ("pruned" if pruned else "kept", "spilled" if r["spill_stores"] else "clean")
            spills[outcome] = spills.get(outcome, 0) + 1
    print(f"{len(records)} records; shared memory estimate / measured:")
    for key in sorted(groups):
        ratios = [est / max(1, r["shared"]) for r, est in groups[key]]
        big = [est / r["shared"] for r, est in groups[key] if r["shared"] >= 32768]
        print(f"  {key[0]:24} sm{key[1]} {key[2]:7} n={len(ratios):3}  max {max(ratios):5.2f}  median "
              f"{_median(ratios):5.2f}  | >=32 KiB: max {max(big) if big else float('nan'):5.2f}  "
              f"median {_median(big):5.2f}")
    print("register rule against ptxas:", spills)
    for line in under:
        print("UNDER:", line)
    return 1 if under else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else CALIBRATION))
