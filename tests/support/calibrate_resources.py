"""Measure the shared memory and registers of the generated Triton kernels over a grid of configs.

Run as a script (no GPU needed; Triton compiles for sm_90 / sm_80 down to a cubin with its own
ptxas):

    python tests/support/calibrate_resources.py [--workers 2] [--budget 3300] [--phases sm90,sm80,linear,sm100,sm120]
                                                [--jsonl /tmp/attncc_resources.jsonl]
                                                [--out bench/calibration/resources.json]

For each spec it loads the generated triton module, records the launches of a forward and a
backward pass on small CPU tensors (like compile_for_gpu.py), then recompiles each recorded kernel
with BLOCK_M / BLOCK_N (softmax family) or CHUNK (linear family), num_warps and num_stages replaced
by the points of a sampled config grid, for sm_90 (GPUTarget("cuda", 90, 32)) and sm_80.

The kernels are compiled as the JIT would compile them for a GPU launch with these (contiguous)
tensors: the arguments go through Triton's own binder, so unit strides become constexpr 1 and
16-aligned pointers / 16-divisible ints get `tt.divisibility = 16` (compile_for_gpu.py passes no
such attributes; without them loads are not vectorised and the pipeliner does not use cp.async, so
its shared-memory numbers are smaller than a real launch's).

Per record: spec, kernel, arch, dtype, D, DV, BLOCK_D, BLOCK_DV, BLOCK_M, BLOCK_N or CHUNK,
num_warps, num_stages, `metadata.shared` (bytes), and registers / spill bytes parsed from the
`ptxas -v` log of the very ptxas run Triton makes (captured by wrapping `subprocess.run` in Triton's
nvidia backend; when a cached compile skipped ptxas, ptxas -v is run on `compiled.asm["ptx"]` with
the same flags). Failures are recorded with their error text; `fits` says whether the shared
memory fits one block of the target (227 KiB on sm_90, 163 KiB on sm_80).

`--modules DIR` loads DIR/<spec>.py (modules generated beforehand, e.g. from a clean checkout with
`attncc.driver.pipeline.compile_source`) instead of `attncc.load`, for when the templates are mid-edit;
`--resume` skips the jobs already in the JSON-lines file; `--phases` picks sm90, sm80, linear and
`unspecialized` (a few points compiled like compile_for_gpu.py, without the JIT's attributes).

Results go to a JSON-lines file as they come (a timeout still leaves data) and are gathered into
`--out` (rewritten every few records and at the end).
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import multiprocessing
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import traceback
from multiprocessing.connection import wait

os.environ["TRITON_INTERPRET"] = "0"
os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED_LIMIT = {90: 232448, 80: 166912, 100: 232448, 120: 101376}  # bytes per block (opt-in maximum)
SOFTMAX_SPECS = ["causal", "alibi", "rpb1d"]
LINEAR_SPECS = ["retnet", "linear_elu"]
SOFTMAX_KERNELS = ["_fwd_kernel", "_bwd_kv_kernel", "_bwd_q_kernel"]
LINEAR_KERNELS = ["_lin_fwd_kernel", "_lin_bwd_kernel"]

# ---------------------------------------------------------------- worker side

_MODULES: dict = {}
MODULE_DIR = os.environ.get("ATTNCC_CALIBRATE_MODULES")  # set by --modules
_LAUNCHES: dict = {}
_PTXAS_LOG: list = []


def _install_ptxas_hook():
    """Wrap subprocess.run inside Triton's nvidia backend so the `ptxas -v` log is kept."""
    import triton.backends.nvidia.compiler as nvc

    real = subprocess

    class _Shim:
        def __getattr__(self, name):
            return getattr(real, name)

        @staticmethod
        def run(cmd, *args, **kwargs):
            try:
                return real.run(cmd, *args, **kwargs)
            finally:
                err = kwargs.get("stderr")
                if isinstance(cmd, list) and cmd and "ptxas" in os.path.basename(str(cmd[0])) and hasattr(err, "name"):
                    try:
                        with open(err.name) as handle:
                            _PTXAS_LOG.append((cmd, handle.read()))
                    except OSError:
                        pass

    nvc.subprocess = _Shim()


def _load(spec):
    if spec not in _MODULES:
        import attncc
        from attncc.driver.pipeline import front_end
        path = os.path.join(ROOT, "examples", f"{spec}.attn")
        if MODULE_DIR:  # pre-generated modules (e.g. from a clean checkout while the tree is being edited)
            from attncc.driver.loader import import_file
            from pathlib import Path
            mod = import_file(Path(MODULE_DIR) / f"{spec}.py", f"attncc_calibrate_{spec}")
        else:
            mod = attncc.load(path, backend="triton")
        mod._check_device = lambda q: None
        if hasattr(mod, "_device_of"):  # the schedule asks the GPU its architecture: say sm_90
            mod._device_of = lambda q: ("NVIDIA H200", mod.ARCHITECTURES[90])
        _MODULES[spec] = (mod, front_end(open(path).read(), path))
    return _MODULES[spec]


def _record(spec, dtype_name, D, DV, variant):
    """The launches (kernel, args, constants) of a forward + backward pass."""
    key = (spec, dtype_name, D, DV, variant)
    if key in _LAUNCHES:
        return _LAUNCHES[key]
    import torch
    from attncc.checks.samples import sample_inputs, sample_params
    mod, parsed = _load(spec)
    dtype = getattr(torch, dtype_name)
    launches = []
    mod._launch = lambda kernel, grid, args, constants: launches.append((kernel, list(args), dict(constants)))
    n = 48
    sizes = {"B": 1, "H": 2, "HKV": 1, "N": n, "M": n, "D": D, "DV": DV}
    params = sample_params(parsed)
    inputs = sample_inputs(parsed, sizes, params, seed=0)
    for x in parsed.learnable_inputs:
        inputs[x.name].requires_grad_()
    q = torch.zeros(1, 2, n, D, dtype=dtype, requires_grad=True)
    k = torch.zeros(1, 1, n, D, dtype=dtype, requires_grad=True)
    v = torch.zeros(1, 1, n, DV, dtype=dtype, requires_grad=True)
    if variant == "state":
        s0 = torch.zeros(1, 2, D, DV + (mod.NORM == "sum"), requires_grad=True)
        out, s1 = mod.attention(q, k, v, **params, **inputs, initial_state=s0, return_state=True)
        (out.float().sum() + s1.sum()).backward()
    else:
        out = mod.attention(q, k, v, **params, **inputs, deterministic=(variant == "deterministic"))
        out.float().sum().backward()
    _LAUNCHES[key] = launches
    return launches


def _parse_ptxas(log, kernel_name):
    regs = spill_st = spill_ld = stack = None
    lines = log.splitlines()
    start = 0
    for idx, line in enumerate(lines):
        if "Compiling entry function" in line and kernel_name in line:
            start = idx
    for line in lines[start:]:
        m = re.search(r"Used (\d+) registers", line)
        if m and regs is None:
            regs = int(m.group(1))
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m and spill_st is None:
            stack, spill_st, spill_ld = (int(x) for x in m.groups())
    return regs, spill_st, spill_ld, stack


def _compile_job(job):
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource, make_backend
    from triton.runtime.jit import create_function_from_signature

    rec = dict(job)
    launches = _record(job["spec"], job["dtype"], job["D"], job["DV"], job["variant"])
    found = [(k, a, c) for k, a, c in launches if k.fn.__name__ == job["kernel"]]
    if not found:
        rec.update(ok=False, error=f"kernel {job['kernel']} not launched")
        return rec
    kernel, args, constants = found[0]
    constants = dict(constants)
    for name, key in (("BLOCK_M", "block_m"), ("BLOCK_N", "block_n"), ("CHUNK", "chunk")):
        if name in constants and job.get(key) is not None:
            constants[name] = job[key]
    constants["num_warps"] = job["num_warps"]
    if job.get("num_stages") is not None:
        constants["num_stages"] = job["num_stages"]
    rec["block_d"] = constants.get("BLOCK_D")
    rec["block_dv"] = constants.get("BLOCK_DV")
    rec["block_m"] = constants.get("BLOCK_M")
    rec["block_n"] = constants.get("BLOCK_N")
    rec["chunk"] = constants.get("CHUNK")
    target = GPUTarget("cuda", job["arch"], 32)
    backend = make_backend(target)
    binder = create_function_from_signature(kernel.signature, kernel.params, backend)
    bound, specialization, options = binder(*args, **constants)
    options, signature, constexprs, attrs = kernel._pack_args(backend, constants, bound, specialization, options)
    if not job.get("specialized", True):
        attrs = {}
        signature = {k: ("i32" if v == "constexpr" and k not in constants else v) for k, v in signature.items()}
        constexprs = {p: v for p, v in constexprs.items() if kernel.arg_names[p[0]] in constants}
    rec["num_stages"] = options.num_stages
    opts = {"num_warps": options.num_warps, "num_stages": options.num_stages}
    _PTXAS_LOG.clear()
    t0 = time.time()
    try:
        compiled = triton.compile(ASTSource(kernel, signature, constexprs, attrs), target=target, options=opts)
    except Exception as exc:  # record the failure (out of resources, ptxas error, ...)
        rec.update(ok=False, seconds=round(time.time() - t0, 2),
                   error=f"{type(exc).__name__}: {str(exc)[:2000]}")
        return rec
    rec["seconds"] = round(time.time() - t0, 2)
    rec["ok"] = True
    rec["shared"] = int(compiled.metadata.shared)
    rec["fits"] = rec["shared"] <= SHARED_LIMIT[job["arch"]]
    log = _PTXAS_LOG[-1][1] if _PTXAS_LOG else None
    rec["ptxas_source"] = "triton-run"
    if log is None:  # cached compile: Triton did not run ptxas; run it ourselves on the same PTX
        rec["ptxas_source"] = "rerun"
        try:
            from triton.backends.nvidia.compiler import get_ptxas, sm_arch_from_capability
            ptxas = get_ptxas(job["arch"]).path
            arch = sm_arch_from_capability(job["arch"])
            with tempfile.TemporaryDirectory() as tmp:
                src = os.path.join(tmp, "k.ptx")
                with open(src, "w") as handle:
                    handle.write(compiled.asm["ptx"])
                res = subprocess.run([ptxas, "-lineinfo", "-v", "--regAllocOptLevel=2", f"--gpu-name={arch}", src,
                                      "-o", os.path.join(tmp, "k.o")], capture_output=True, text=True, timeout=600)
                log = res.stdout + res.stderr
        except Exception as exc:
            rec["ptxas_error"] = f"{type(exc).__name__}: {exc}"
    regs, spill_st, spill_ld, stack = _parse_ptxas(log or "", job["kernel"])
    rec.update(registers=regs, spill_stores=spill_st, spill_loads=spill_ld, stack_frame=stack)
    return rec


def _worker(conn):
    import warnings
    warnings.filterwarnings("ignore")
    _install_ptxas_hook()
    while True:
        job = conn.recv()
        if job is None:
            return
        try:
            rec = _compile_job(job)
        except Exception as exc:
            rec = dict(job, ok=False, error=f"{type(exc).__name__}: {exc}", trace=traceback.format_exc()[-1500:])
        conn.send(rec)


# ---------------------------------------------------------------- job list

def _softmax_jobs(arch, per_kernel, seed):
    rng = random.Random(seed)
    jobs = []
    base = dict(dtype="float16", D=64, DV=64, block_m=64, block_n=64, num_warps=4, num_stages=2)

    def add(kernel, spec="causal", variant="plain", **over):
        job = dict(base, family="softmax", kernel=kernel, spec=spec, arch=arch, variant=variant)
        job.update(over)
        jobs.append(job)

    for kernel in SOFTMAX_KERNELS:
        anchors = []
        # one factor at a time around the base point, fp16 and fp32
        for dtype in ("float16", "float32"):
            for D in (16, 32, 64, 128, 256):
                anchors.append(dict(dtype=dtype, D=D, DV=D))
            for bm, bn in ((16, 64), (32, 64), (128, 64), (64, 16), (64, 32), (64, 128), (128, 128), (32, 32)):
                anchors.append(dict(dtype=dtype, block_m=bm, block_n=bn))
            for st in ((1, 3, 4) if dtype == "float16" else (1, 4)):
                anchors.append(dict(dtype=dtype, num_stages=st))
            anchors.append(dict(dtype=dtype, num_warps=8))
        if arch == 90:
            anchors += [dict(D=128, DV=128, block_m=128, block_n=64, num_stages=s) for s in (1, 2, 3, 4)]
            anchors += [dict(D=128, DV=128, block_m=128, block_n=128, num_warps=8, num_stages=s) for s in (2, 3)]
            anchors += [dict(D=64, DV=128), dict(D=128, DV=64), dict(D=32, DV=256), dict(D=64, DV=128, dtype="float32")]
            anchors += [dict(dtype="bfloat16"), dict(dtype="bfloat16", D=128, DV=128, block_m=128, block_n=64, num_stages=3)]
            anchors += [dict(spec="alibi"), dict(spec="alibi", dtype="float32"), dict(spec="alibi", D=128, DV=128,
                        block_m=128, block_n=64, num_stages=3)]
            anchors += [dict(spec="rpb1d"), dict(spec="rpb1d", dtype="float32"), dict(spec="rpb1d", D=128, DV=128,
                        block_m=128, block_n=64, num_stages=3)]
            if kernel == "_bwd_q_kernel":
                anchors += [dict(spec="rpb1d", variant="deterministic"),
                            dict(spec="rpb1d", variant="deterministic", D=128, DV=128, block_m=128, block_n=64)]
            anchors.append(dict(dtype="float64", D=64, DV=64, block_m=32, block_n=32))
        else:
            anchors = [a for i, a in enumerate(anchors) if i % 2 == 0 or "num_stages" in a or "D" in a]
            anchors += [dict(D=128, DV=128, block_m=128, block_n=64, num_stages=s) for s in (2, 3)]
            anchors += [dict(D=64, DV=128), dict(spec="rpb1d"), dict(spec="alibi")]
        for a in anchors:
            add(kernel, **a)
        # random points over the full grid
        n_random = max(0, per_kernel - len(anchors))
        drawn = 0
        while drawn < n_random:
            dtype = rng.choice(["float16", "float16", "float32"])
            D = rng.choice([16, 32, 64, 128, 256])
            DV = D if rng.random() < 0.8 else rng.choice([16, 32, 64, 128, 256])
            bm, bn = rng.choice([16, 32, 64, 128]), rng.choice([16, 32, 64, 128])
            # fp32 (input_precision="ieee": FMA dots, fully unrolled) compiles for minutes past
            # BM * BN * D = 64 * 64 * 128; the anchors cover a few of those, the random points do not
            if dtype == "float32" and bm * bn * max(D, DV) > 64 * 64 * 128:
                continue
            drawn += 1
            add(kernel, spec=rng.choice(["causal", "causal", "alibi", "rpb1d"]), dtype=dtype, D=D, DV=DV,
                block_m=bm, block_n=bn, num_warps=rng.choice([4, 8]), num_stages=rng.choice([1, 2, 3, 4]))
    if arch == 90:
        for a in (dict(), dict(dtype="float32"), dict(D=128, DV=128, block_m=128), dict(block_m=16, D=256, DV=256,
                  dtype="float32"), dict(num_warps=8, block_m=128, D=128, DV=128)):
            add("_bwd_preprocess_kernel", **a)
    return jobs


def _linear_jobs(arch, seed):
    rng = random.Random(seed)
    jobs = []

    def add(kernel, spec, **over):
        job = dict(family="linear", kernel=kernel, spec=spec, arch=arch, variant="plain", dtype="float16", D=32,
                   DV=32, chunk=64, num_warps=4, num_stages=None)
        job.update(over)
        jobs.append(job)

    for kernel in LINEAR_KERNELS:
        for spec in LINEAR_SPECS:
            points = [dict(), dict(dtype="float32")]
            points += [dict(chunk=c) for c in (16, 32, 128)]
            points += [dict(D=d, DV=d) for d in (16, 64)]
            points += [dict(num_warps=8), dict(num_stages=2)]
            if arch == 90:
                points += [dict(chunk=c, D=d, DV=d, dtype=t, num_warps=w)
                           for c, d, t, w in [(rng.choice([16, 32, 64, 128]), rng.choice([16, 32, 64]),
                                               rng.choice(["float16", "float32"]), rng.choice([4, 8]))
                                              for _ in range(2)]]
                points += [dict(D=32, DV=64), dict(dtype="float32", D=64, DV=64, chunk=32)]
                if spec == "retnet":
                    points += [dict(variant="state")]
            for p in points:
                add(kernel, spec, **p)
    if arch == 90:
        add("_lin_fwd_kernel", "retnet", D=128, DV=128, chunk=64)
        add("_lin_bwd_kernel", "retnet", D=128, DV=128, chunk=64)
    return jobs


def _dedupe(jobs):
    seen, out = set(), []
    for job in jobs:
        key = json.dumps(job, sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append(job)
    return out


def _interleave(jobs):
    """Round-robin over kernels so that a timeout leaves every kernel some data."""
    by_kernel: dict = {}
    for job in jobs:
        by_kernel.setdefault(job["kernel"], []).append(job)
    out = []
    for group in itertools.zip_longest(*by_kernel.values()):
        out += [j for j in group if j is not None]
    return out


def build_jobs(phases, seed=0):
    jobs = []
    if "sm90" in phases:
        jobs += _interleave(_dedupe(_softmax_jobs(90, 95, seed)))
    if "sm80" in phases:
        jobs += _interleave(_dedupe(_softmax_jobs(80, 28, seed + 1)))
    if "linear" in phases:
        jobs += _interleave(_dedupe(_linear_jobs(90, seed + 2) + _linear_jobs(80, seed + 3)))
    for arch in (100, 120):  # Blackwell: a smaller sample, to see whether the sm_80/sm_90 fit holds
        if f"sm{arch}" in phases:
            jobs += _interleave(_dedupe(_softmax_jobs(arch, 12, seed + arch)))
    if "unspecialized" in phases:  # what compile_for_gpu.py measures (no divisibility attributes)
        for kernel in SOFTMAX_KERNELS:
            for over in (dict(), dict(D=128, DV=128, block_m=128, num_stages=3)):
                job = dict(family="softmax", kernel=kernel, spec="causal", arch=90, variant="plain", dtype="float16",
                           D=64, DV=64, block_m=64, block_n=64, num_warps=4, num_stages=2, specialized=False)
                job.update(over)
                jobs.append(job)
    for idx, job in enumerate(jobs):
        job["job"] = idx
    return jobs


# ---------------------------------------------------------------- driver

def _module_info():
    import hashlib
    info = {}
    folder = os.environ.get("ATTNCC_CALIBRATE_MODULES")
    for spec in SOFTMAX_SPECS + LINEAR_SPECS:
        if folder:
            with open(os.path.join(folder, f"{spec}.py"), "rb") as handle:
                info[spec] = {"module": f"{folder}/{spec}.py", "sha256": hashlib.sha256(handle.read()).hexdigest()}
        else:
            info[spec] = {"module": "attncc.load(examples/%s.attn)" % spec}
    return info


def write_json(records, out):
    import triton
    os.makedirs(os.path.dirname(out), exist_ok=True)
    doc = {
        "triton": triton.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "targets": {"90": {"target": 'GPUTarget("cuda", 90, 32)', "ptxas_arch": "sm_90a",
                           "shared_limit": SHARED_LIMIT[90]},
                    "80": {"target": 'GPUTarget("cuda", 80, 32)', "ptxas_arch": "sm_80",
                           "shared_limit": SHARED_LIMIT[80]},
                    **{str(arch): {"target": f'GPUTarget("cuda", {arch}, 32)', "ptxas_arch": f"sm_{arch}a",
                                   "shared_limit": SHARED_LIMIT[arch]}
                       for arch in (100, 120) if any(r.get("arch") == arch for r in records)}},
        "notes": "Compiled without a GPU with triton.compile, JIT specialization from contiguous tensors "
                 "(unit strides constexpr, tt.divisibility=16); shared = metadata.shared bytes; registers and "
                 "spills from the ptxas -v log. Produced by tests/support/calibrate_resources.py.",
        "modules": _module_info(),
        "records": sorted(records, key=lambda r: r.get("job", 0)),
    }
    tmp = out + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(doc, handle, indent=1)
    os.replace(tmp, out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--budget", type=float, default=3300, help="seconds of wall time in all")
    parser.add_argument("--timeout", type=float, default=240, help="seconds per compile")
    parser.add_argument("--phases", default="sm90,sm80,linear,unspecialized")
    parser.add_argument("--jsonl", default=os.path.join(tempfile.gettempdir(), "attncc_resources.jsonl"))
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "calibration", "resources.json"))
    parser.add_argument("--resume", action="store_true", help="skip jobs already in --jsonl")
    parser.add_argument("--modules", help="load DIR/<spec>.py (generated modules) instead of attncc.load")
    parser.add_argument("--limit", type=int, default=0, help="at most this many jobs (0: all)")
    args = parser.parse_args()

    if args.modules:
        os.environ["ATTNCC_CALIBRATE_MODULES"] = os.path.abspath(args.modules)  # inherited by the workers
    jobs = build_jobs(args.phases.split(","))
    records = []
    if args.resume and os.path.exists(args.jsonl):
        with open(args.jsonl) as handle:
            records = [json.loads(line) for line in handle if line.strip()]
        done = {json.dumps({k: r.get(k) for k in ("kernel", "spec", "arch", "dtype", "D", "DV", "block_m", "block_n",
                                                    "chunk", "num_warps", "variant", "specialized")}, sort_keys=True)
                + str(r.get("num_stages_requested", r.get("num_stages"))) for r in records}

        def key(job):
            return json.dumps({k: job.get(k) for k in ("kernel", "spec", "arch", "dtype", "D", "DV", "block_m",
                                                       "block_n", "chunk", "num_warps", "variant", "specialized")},
                              sort_keys=True) + str(job.get("num_stages"))
        jobs = [j for j in jobs if key(j) not in done]
    else:
        open(args.jsonl, "w").close()
    if args.limit:
        jobs = jobs[:args.limit]
    for job in jobs:
        job["num_stages_requested"] = job.get("num_stages")
    print(f"{len(jobs)} jobs, {args.workers} workers, budget {args.budget:.0f}s", flush=True)

    ctx = multiprocessing.get_context("spawn")
    deadline = time.time() + args.budget
    pending = list(jobs)
    workers = {}  # conn -> (process, job, start)

    def start_worker():
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(child,), daemon=True)
        proc.start()
        workers[parent] = [proc, None, 0.0]

    for _ in range(args.workers):
        start_worker()
    sink = open(args.jsonl, "a")
    since_write = 0

    def emit(rec):
        nonlocal since_write
        records.append(rec)
        sink.write(json.dumps(rec) + "\n")
        sink.flush()
        since_write += 1
        status = f"shared={rec.get('shared')} regs={rec.get('registers')} spill={rec.get('spill_stores')}" \
            if rec.get("ok") else f"FAIL {rec.get('error', '')[:120]!r}"
        print(f"[{len(records)}] {rec['arch']} {rec['kernel']} {rec['spec']} {rec['dtype']} D={rec['D']} "
              f"DV={rec['DV']} bm={rec.get('block_m')} bn={rec.get('block_n')} c={rec.get('chunk')} "
              f"w={rec['num_warps']} s={rec.get('num_stages')} {rec.get('seconds')}s {status}", flush=True)
        if since_write >= 10:
            write_json(records, args.out)
            since_write = 0

    while workers:
        now = time.time()
        for conn, state in list(workers.items()):
            proc, job, started = state
            if job is None:
                if pending and now < deadline:
                    state[1], state[2] = pending.pop(0), now
                    conn.send(state[1])
                else:
                    conn.send(None)
                    proc.join(5)
                    del workers[conn]
            elif now - started > args.timeout or now > deadline + 60:
                proc.kill()  # a worker we started, stuck in one compile
                proc.join()
                del workers[conn]
                emit(dict(job, ok=False, error=f"timeout: compile took more than {now - started:.0f}s",
                          seconds=round(now - started, 1)))
                if pending and now < deadline:
                    start_worker()
        if not workers:
            break
        ready = wait([c for c, s in workers.items() if s[1] is not None], timeout=2.0)
        for conn in ready:
            try:
                rec = conn.recv()
            except EOFError:
                proc, job, _ = workers.pop(conn)
                emit(dict(job, ok=False, error=f"worker died (exit code {proc.exitcode})"))
                if pending and time.time() < deadline:
                    start_worker()
                continue
            workers[conn][1] = None
            emit(rec)
    sink.close()
    write_json(records, args.out)
    left = len(pending)
    print(f"done: {len(records)} records, {left} jobs not run", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    main()
