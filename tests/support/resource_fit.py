"""Conservative estimates of shared memory and registers of attncc's generated Triton kernels.

Fitted to bench/calibration/resources.json (measured by tests/support/calibrate_resources.py:
triton.compile for sm_90 / sm_80 with the JIT's own specialization, `metadata.shared`, ptxas -v).
`python tests/support/resource_fit.py [resources.json]` prints, per kernel / arch / dtype class,
how far the estimates are over the measurements (and any record they are under).

Notation (all sizes in bytes unless said otherwise):
    e  = element size of q/k/v (2 fp16/bf16, 4 fp32, 8 fp64); A = max(4, e) (the accumulator dtype)
    BD = BLOCK_D = max(16, next_pow2(D)); BDV = BLOCK_DV (linear norm=sum: next_pow2(DV + 1))
    Q  = e*BM*BD   DO = e*BM*BDV   K = e*BN*BD   V = e*BN*BDV   (the tiles a kernel loads)
    S  = A*BM*BN   (one fp32 score tile: the scratch of a layout conversion of s / p / ds)
    T  = Q + DO + K + V
    threads = 32 * num_warps

Shared memory (softmax family; sm_90 and sm_80 share the formulas):
    _fwd_kernel      e == 2, score_tile False:  Q + K + V                      (exact for causal, alibi)
                     otherwise:                 Q + V + max(K, S) + 4*BM       (fp32 / fp64 FMA dots convert p
                                                through shared memory; a gathered bias (rpb1d) converts s)
    _bwd_kv_kernel   e >= 4:  T + 2*S
                     e == 2:  T + (max(K + V, 4096)  if BN <= 32: tiles too small for one wgmma/mma row block
                                   max(4096, 4*BM, Q/2) otherwise)
    _bwd_q_kernel    e >= 4:  Q + DO + K + max(V, S)
                     e == 2:  T + (S if score_tile else 0)
    _bwd_preprocess_kernel: 8*BM
  num_stages does not change the softmax kernels' shared memory (their K/V loads sit under a per-tile
  `if`, so the software pipeliner does not multi-buffer them); num_warps changes it by at most 2 KiB
  (sm_80 backward), covered by the constant terms.
Shared memory (linear family, C = CHUNK):
    _lin_fwd_kernel  e == 2: max(2*e*C*(2*BD + BDV), A*C*C + 2*e*C*BD) + A*BD*BDV
                     e >= 4: 2*e*C*(2*BD + BDV) + A*C*C + A*BD*BDV
    _lin_bwd_kernel  2*(2*e*C*(BD + BDV) + A*C*C + A*BD*BDV) + max(0, stages - 3) * 2*e*C*(BD + BDV)
  (fitted to ~40 points per kernel, sm_90 and sm_80 alike; the launches use Triton's default
  num_stages = 3. _lin_bwd_kernel is the one kernel whose shared memory grows with num_stages
  (2 -> 3: +8 / +16 KiB at C=64, D=32); stages > 3 were not measured, hence the guard term. retnet
  (decay) needs up to ~1.7x linear_elu's shared memory, so linear_elu is over-estimated up to 3x.)

Registers per thread: base + (a*ACC + b*SC + c*OPS) / threads, with ACC the fp32 accumulator elements
(fwd BM*BDV, bwd_kv BN*(BD+BDV), bwd_q BM*BD, linear BD*BDV), SC the score tile BM*BN (linear C*C) and
OPS the operand tiles in 32-bit words (fwd Q, bwd_kv K+V, bwd_q Q+DO, linear C*(BD+BDV), times e/4);
base, a, b, c per kernel and dtype class below. It is >= ptxas's count for every measured config that
did not spill (softmax: 1.0-2.7x over, median 1.1-2.0x; linear fp16: simply 255). Registers are much
less regular than shared memory (ptxas takes what it is given, up to 255), so this bound is NOT a
reliable spill predictor: of the measured configs that spilled, about 40% have an estimate <= 255.
(ptxas also reports "Used 32 registers" for some heavily spilling kernels: fp32 tiles >= 64x64x64,
big linear chunks; treat spill bytes, not the register count, as the signal there.)

`score_tile=False` may be passed (keyword) for specs whose score/mask only uses i, j, h, row vectors
and scalars (causal, alibi, windows); the default True also covers specs that gather a [BM, BN] tile from
an input (rpb1d's bias table), which needs an extra fp32 [BM, BN] shared-memory scratch.
"""

from __future__ import annotations

import json
import math
import os
import sys

# (base, a, b, c) for registers, per (kernel, e == 2)
_REGS = {
    ("_fwd_kernel", True): (115, 0.0, 4.0, 1.5),
    ("_fwd_kernel", False): (47, 6.0, 6.0, 1.0),
    ("_bwd_kv_kernel", True): (124, 0.0, 3.0, 2.0),
    ("_bwd_kv_kernel", False): (94, 2.0, 6.0, 0.0),
    ("_bwd_q_kernel", True): (159, 0.0, 6.0, 0.0),
    ("_bwd_q_kernel", False): (58, 1.0, 4.0, 1.0),
    ("_bwd_preprocess_kernel", True): (14, 2.0, 0.0, 0.0),
    ("_bwd_preprocess_kernel", False): (80, 2.0, 0.0, 0.0),
    # linear: retnet's fp16 kernels use all 255 registers even where they do not spill (linear_elu's
    # use 70-160), so for fp16 the estimate is the maximum; few non-spilling points exist at all
    ("_lin_fwd_kernel", True): (255, 0.0, 0.0, 0.0),
    ("_lin_fwd_kernel", False): (60, 2.0, 0.5, 0.0),
    ("_lin_bwd_kernel", True): (255, 0.0, 0.0, 0.0),
    ("_lin_bwd_kernel", False): (255, 0.0, 0.0, 0.0),
}


def estimate(family: str, kernel: str, arch: int, block_m: int, block_n: int, chunk: int, block_d: int,
             block_dv: int, elsize: int, warps: int, stages: int, *, score_tile: bool = True) -> tuple[int, int]:
    """(shared memory bytes, registers per thread) of one kernel config; see the module docstring."""
    e, bd, bdv = elsize, block_d, block_dv
    acc = max(4, e)
    threads = 32 * warps
    if family == "softmax":
        bm, bn = block_m, block_n
        q, do, k, v = e * bm * bd, e * bm * bdv, e * bn * bd, e * bn * bdv
        s = acc * bm * bn
        t = q + do + k + v
        if kernel == "_fwd_kernel":
            shared = q + k + v if (e == 2 and not score_tile) else q + v + max(k, s) + 4 * bm
            words = (bm * bdv, bm * bn, e / 4 * bm * bd)
        elif kernel == "_bwd_kv_kernel":
            if e >= 4:
                shared = t + 2 * s
            else:
                shared = t + (max(k + v, 4096) if bn <= 32 else max(4096, 4 * bm, q // 2))
            words = (bn * (bd + bdv), bm * bn, e / 4 * bn * (bd + bdv))
        elif kernel == "_bwd_q_kernel":
            if e >= 4:
                shared = q + do + k + max(v, s)
            else:
                shared = t + (s if score_tile else 0)
            words = (bm * bd, bm * bn, e / 4 * bm * (bd + bdv))
        elif kernel == "_bwd_preprocess_kernel":
            shared = 8 * bm
            words = (bm * bdv, 0, 0)
        else:
            raise KeyError(f"unknown softmax kernel {kernel!r}")
    elif family == "linear":
        c = chunk
        if kernel == "_lin_fwd_kernel":
            if e == 2:
                shared = max(2 * e * c * (2 * bd + bdv), acc * c * c + 2 * e * c * bd) + acc * bd * bdv
            else:
                shared = 2 * e * c * (2 * bd + bdv) + acc * c * c + acc * bd * bdv
        elif kernel == "_lin_bwd_kernel":
            shared = 2 * (2 * e * c * (bd + bdv) + acc * c * c + acc * bd * bdv)
            # measured: num_stages 2 -> 3 adds up to e*C*(BD+BDV)*2; stages > 3 unmeasured, guarded
            shared += max(0, stages - 3) * 2 * e * c * (bd + bdv)
        else:
            raise KeyError(f"unknown linear kernel {kernel!r}")
        words = (bd * bdv, c * c, e / 4 * c * (bd + bdv))
    else:
        raise KeyError(f"unknown family {family!r}")
    base, a, b, cc = _REGS[(kernel, e == 2)]
    regs = base + (a * words[0] + b * words[1] + cc * words[2]) / threads
    return int(shared), int(math.ceil(regs))


# ---------------------------------------------------------------- self-check

ELSIZE = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}


def _estimate_record(rec, score_tile=True):
    return estimate(rec["family"], rec["kernel"], rec["arch"], rec.get("block_m") or 0, rec.get("block_n") or 0,
                    rec.get("chunk") or 0, rec.get("block_d") or 0, rec["block_dv"], ELSIZE[rec["dtype"]],
                    rec["num_warps"], rec.get("num_stages") or 3, score_tile=score_tile)


def _median(xs):
    xs = sorted(xs)
    n = len(xs)
    return (xs[n // 2] + xs[(n - 1) // 2]) / 2 if xs else float("nan")


def main(path):
    with open(path) as handle:
        doc = json.load(handle)
    records = [r for r in doc["records"] if r.get("ok") and r.get("specialized", True) is not False]
    groups = {}
    for rec in records:
        groups.setdefault((rec["kernel"], rec["arch"], "e2" if ELSIZE[rec["dtype"]] == 2 else "e4+"), []).append(rec)
    under = []
    spill_table = {"pred_spill&spilled": 0, "pred_spill&clean": 0, "pred_clean&spilled": 0, "pred_clean&clean": 0}
    print(f"{len(records)} compiled records (triton {doc.get('triton')}); ratio = estimate / measured")
    print(f"{'kernel':24} {'arch':>4} {'dt':>4} {'n':>4} | {'shared max':>10} {'median':>6} {'>=32K max':>9} {'median':>6}"
          f" | {'regs n':>6} {'max':>5} {'median':>6}")
    for key in sorted(groups):
        shared_r, big_r, reg_r = [], [], []
        for rec in groups[key]:
            est_shared, est_regs = _estimate_record(rec)
            ratio = est_shared / max(1, rec["shared"])
            shared_r.append(ratio)
            if rec["shared"] >= 32768:
                big_r.append(ratio)
            if est_shared < rec["shared"]:
                under.append(("shared", key, rec, est_shared))
            if rec.get("registers") is not None:
                spilled = (rec.get("spill_stores") or 0) > 0
                spill_table[("pred_spill" if est_regs > 255 else "pred_clean") + ("&spilled" if spilled else "&clean")] += 1
                if not spilled:
                    reg_r.append(est_regs / rec["registers"])
                    if est_regs < rec["registers"]:
                        under.append(("registers", key, rec, est_regs))
        print(f"{key[0]:24} {key[1]:>4} {key[2]:>4} {len(shared_r):>4} | {max(shared_r):>10.3f} {_median(shared_r):>6.3f} "
              f"{(max(big_r) if big_r else float('nan')):>9.3f} {_median(big_r):>6.3f} | {len(reg_r):>6} "
              f"{(max(reg_r) if reg_r else float('nan')):>5.2f} {_median(reg_r):>6.2f}")
    tight = [(_estimate_record(r, score_tile=False)[0] / r["shared"]) for r in records
             if r["family"] == "softmax" and r["spec"] != "rpb1d" and ELSIZE[r["dtype"]] == 2
             and r["kernel"] in ("_fwd_kernel", "_bwd_q_kernel")]
    under_tight = [r for r in records if r["family"] == "softmax" and r["spec"] != "rpb1d"
                   and _estimate_record(r, score_tile=False)[0] < r["shared"]]
    print(f"score_tile=False on the causal/alibi fp16 fwd/bwd_q records: max {max(tight):.3f} median "
          f"{_median(tight):.3f}, {len(under_tight)} under")
    print("spill prediction (estimate > 255 registers):", spill_table)
    if under:
        print(f"{len(under)} UNDER-ESTIMATES:")
        for what, key, rec, est in under:
            print(f"  {what} {key} {rec['spec']} {rec['dtype']} D={rec['D']} DV={rec['DV']} bm={rec.get('block_m')} "
                  f"bn={rec.get('block_n')} c={rec.get('chunk')} w={rec['num_warps']} s={rec.get('num_stages')}: "
                  f"measured {rec['shared'] if what == 'shared' else rec['registers']}, estimate {est}")
        return 1
    print("no under-estimates")
    return 0


if __name__ == "__main__":
    default = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "calibration",
                           "resources.json")
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else default))
