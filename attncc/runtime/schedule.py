"""Schedules: the tile space of a kernel, what fits a GPU, the default, and the tuning cache.

This file is standard-library Python only, because `attncc compile` copies it verbatim into
every generated Triton module: a module picks its tiles, prunes what cannot fit and reads and
writes the tuning cache with torch and triton alone, by exactly the rules `attncc tune` uses.
Names that do not start with '_' become module-level names of every generated module, so
attncc/language/elaborate.py refuses them as spec names.

A config is a dict of tile names to ints: block_m, block_n, warps, stages (softmax family) or
chunk, warps (linear attention). Each of a spec's two kernels ("forward", "backward") has its
own config. Shapes enter as `dims`: (block_d, block_dv, elsize), the padded head dims and the
bytes per element of q.
"""

import itertools
import json
import math
import os
import tempfile
import time
import warnings

try:
    import fcntl
except ImportError:  # not POSIX: writers are not serialized, each write is still atomic
    fcntl = None

KERNELS = ("forward", "backward")
TILE_NAMES = {"softmax": ("block_m", "block_n", "warps", "stages"), "linear": ("chunk", "warps")}
CACHE_FORMAT = "attncc-tuning/1"

# Per compute capability: (name, shared memory one block may use in bytes). Every architecture
# here has 64K 32-bit registers per SM and at most 255 per thread; spilling past that is legal
# but slow, so a config whose live values alone need more is pruned.
ARCHITECTURES = {
    80: ("sm80", 166912),   # A100
    86: ("sm86", 101376),   # RTX 30, A10, A40
    89: ("sm89", 101376),   # RTX 40, L4, L40
    90: ("sm90", 232448),   # H100, H200
    100: ("sm100", 232448),  # B200
    120: ("sm120", 101376),  # RTX 50
}
MAX_REGISTERS = 255
# Where the tensor-core MMA reads an operand from shared memory (wgmma, tcgen05).
SHARED_OPERAND_ARCHITECTURES = ("sm90", "sm100")

# The default space per family and kernel, in tiers: a tier is tried only when nothing in the
# ones before it fits (large head dims, fp32 and fp64, architectures with 99 KB of shared memory).
DEFAULT_SPACE = {
    ("softmax", "forward"): [
        {"block_m": (64, 128), "block_n": (32, 64, 128), "warps": (4, 8), "stages": (2, 3, 4)},
        {"block_m": (16, 32, 64), "block_n": (16, 32, 64), "warps": (4,), "stages": (1, 2)},
    ],
    ("softmax", "backward"): [
        {"block_m": (16, 32, 64, 128), "block_n": (32, 64, 128), "warps": (4, 8), "stages": (1, 2, 3)},
        {"block_m": (16, 32), "block_n": (16, 32), "warps": (4,), "stages": (1,)},
    ],
    ("linear", "forward"): [{"chunk": (32, 64, 128), "warps": (4, 8)}, {"chunk": (16,), "warps": (4,)}],
    ("linear", "backward"): [{"chunk": (32, 64, 128), "warps": (4, 8)}, {"chunk": (16,), "warps": (4,)}],
}
# What the heuristic default aims for (the closest config that fits is taken).
TARGETS = {
    ("softmax", "forward"): {"block_m": 128, "block_n": 64, "warps": 8, "stages": 3},
    ("softmax", "backward"): {"block_m": 32, "block_n": 128, "warps": 8, "stages": 2},
    ("linear", "forward"): {"chunk": 64, "warps": 4},
    ("linear", "backward"): {"chunk": 64, "warps": 4},
}
# From this (padded) head dim the softmax kernels aim for WIDE_TARGETS instead. Both backward targets
# are the fastest configs without spills across the gallery (attncc inspect, sm_90, bf16; dense,
# alibi, maxvit_grid, halo2d, natten2d, chunk_causal, rpb1d): at D = 64, 64x64 on 4 warps runs
# the causal dK/dV loop in 11.25 instructions per score element and thread but spills in
# dense, alibi, maxvit_grid and halo2d (2 to 27 STL/LDL at 255 registers); 32x128 on 8 warps
# spills in none (15.5). At D = 128, 32x128 on 8 warps spills in maxvit_grid (14); 16x128 in none.
# The forward's WIDE_TARGETS entry: at D = 128, 128x64 spills in rpb1d (192 STL/LDL), natten2d and
# maxvit_grid; 128x32 in none.
WIDE_HEAD_DIM = 128
WIDE_TARGETS = {("softmax", "backward"): {"block_m": 16, "block_n": 128, "warps": 8, "stages": 2},
                ("softmax", "forward"): {"block_m": 128, "block_n": 32, "warps": 8, "stages": 3}}
# Under Triton's interpreter nothing has to fit, and small tiles cost little and exercise the
# tile and chunk boundaries.
INTERPRETER_CONFIG = {"softmax": {"block_m": 32, "block_n": 32, "warps": 4, "stages": 2},
                      "linear": {"chunk": 32, "warps": 4}}


class ScheduleError(ValueError):
    """A tile config that cannot run (unknown name, bad value, does not fit): the message says
    which tile, which limit and the fix."""


def architecture(capability):
    """(name, shared memory bytes) of a compute capability such as (9, 0), or of the closest
    older one listed; None for an unknown or pre-Ampere capability."""
    number = capability[0] * 10 + capability[1]
    known = [c for c in ARCHITECTURES if c <= number]
    return ARCHITECTURES[max(known)] if known else None


def padded_dims(d, dv, elsize):
    """(block_d, block_dv, elsize): the head dims as the kernels pad them (a power of two, >= 16)."""
    return (max(16, 1 << max(0, (d - 1).bit_length())), max(16, 1 << max(0, (dv - 1).bit_length())), elsize)


# The kernels behind each config: one forward kernel; the softmax backward is three kernels
# (preprocess, dK/dV, dQ) that share one config.
PARTS = {("softmax", "forward"): ("fwd",), ("softmax", "backward"): ("bwd_pre", "bwd_kv", "bwd_q"),
         ("linear", "forward"): ("lin_fwd",), ("linear", "backward"): ("lin_bwd",)}


def part_shared(part, config, dims, taylor2=False):
    """Shared memory in bytes of one kernel: a formula fitted to what Triton compiles for sm_80
    and sm_90 (bench/calibration/resources.json: 418 configs, and 100 more for sm_100 and
    sm_120; never under any of them), and at least what a software-pipelined loop needs: a
    softmax kernel whose tile loop has no may-test (a closed-form range proved to imply it)
    keeps `stages` copies of the tiles it loads per iteration (k, v in the forward and dQ
    kernels; q, dO and two row statistics in dK/dV; checked against `attncc inspect` for
    sm_90, tests/test_inspect.py). A score tile in fp32 goes through shared memory for layout
    conversions."""
    bd, bdv, e = dims
    acc = max(4, e)
    if part.startswith("lin_"):
        c = config["chunk"]
        state = acc * ((1 + bd + bd * bd) if taylor2 else bd) * bdv
        if part == "lin_fwd":
            loads = 2 * e * c * (2 * bd + bdv)
            return (max(loads, acc * c * c + 2 * e * c * bd) if e == 2 else loads + acc * c * c) + state
        return 2 * (2 * e * c * (bd + bdv) + acc * c * c + state)
    bm, bn = config["block_m"], config["block_n"]
    if part == "bwd_q":  # the dQ kernel owns block_n query rows and walks block_m keys
        bm, bn = bn, bm
    if part == "bwd_pre":
        return 8 * bm
    q, do, k, v, score = e * bm * bd, e * bm * bdv, e * bn * bd, e * bn * bdv, acc * bm * bn
    stages = config.get("stages", 1)
    if part == "fwd":
        return max(q + v + max(k, score) + 4 * bm, q + stages * (k + v) + 4 * bm)
    if part == "bwd_kv":
        pipelined = k + v + stages * (q + do + 8 * bm)
        if e >= 4:
            return max(q + do + k + v + 2 * score, pipelined)
        return max(q + do + k + v + (max(k + v, 4096) if bn <= 32 else max(4096, 4 * bm, q // 2)), pipelined)
    pipelined = q + do + stages * (k + v)
    if e >= 4:  # bwd_q
        return max(q + do + k + max(v, score), pipelined)
    return max(q + do + k + v + score, pipelined)


def part_live_registers(part, config, dims, taylor2=False, operands_in_shared=False):
    """32-bit values per thread that one kernel must keep live at once (fp32 accumulators, the
    score tile, its 16-bit operand tiles) plus 32 for addresses and indices. Past 255 a kernel
    spills for certain; below, ptxas decides (bench/calibration/ records what it did). With
    `operands_in_shared` (Hopper's wgmma and later read an MMA operand from shared memory) the
    dK/dV kernel's k and v tiles, loaded once, stay out of the registers."""
    bd, bdv, e = dims
    threads = 32 * config["warps"]
    if part.startswith("lin_"):
        c = config["chunk"]
        state = ((1 + bd + bd * bd) if taylor2 else bd) * bdv
        live = state + c * c + c * bdv if part == "lin_fwd" else 2 * state + c * c + 2 * c * bdv
    else:
        bm, bn = config["block_m"], config["block_n"]
        if part == "bwd_q":  # see part_shared
            bm, bn = bn, bm
        live = {"fwd": bm * bdv + bm * bn + bm * bd * e // 4, "bwd_pre": bm * bdv,
                "bwd_kv": bn * (bd + bdv) + 2 * bm * bn + (0 if operands_in_shared else bn * (bd + bdv) * e // 4),
                "bwd_q": bm * bd + 2 * bm * bn + bm * (bd + bdv) * e // 4}[part]
    return live // threads + 32


def estimate(family, kernel, config, dims, taylor2=False, arch=None):
    """(shared memory bytes, live registers per thread) of a kernel ("forward" / "backward")
    under `config` on `arch` ((name, shared bytes); None: as an Ampere would): the largest of its
    parts (see part_shared, part_live_registers)."""
    parts = PARTS[(family, kernel)]
    in_shared = arch is not None and arch[0] in SHARED_OPERAND_ARCHITECTURES
    return (max(part_shared(p, config, dims, taylor2) for p in parts),
            max(part_live_registers(p, config, dims, taylor2, in_shared) for p in parts))


def misfit(family, kernel, config, dims, arch, taylor2=False):
    """Why `config` cannot run on `arch` ((name, shared bytes) from `architecture`), or None if
    it fits. Under the interpreter (arch None) everything fits."""
    if arch is None:
        return None
    name, limit = arch
    shared, registers = estimate(family, kernel, config, dims, taylor2, arch)
    if shared > limit:
        return f"needs about {shared:,} bytes of shared memory; {name} allows {limit:,} per block"
    if registers > MAX_REGISTERS:
        return f"needs about {registers} registers per thread; {name} allows {MAX_REGISTERS}"
    return None


def space(family, kernel, fixed, tier=0):
    """The configs of one tier of the space: the spec's tile values (`fixed`: name -> values)
    where it gives them, the default tier's elsewhere. Ordered, duplicates removed."""
    names = TILE_NAMES[family]
    default = DEFAULT_SPACE[(family, kernel)][tier]
    values = [tuple(fixed.get(n) or default[n]) for n in names]
    return [dict(zip(names, combo)) for combo in itertools.product(*values)]


def pruned_space(family, kernel, fixed, dims, arch, taylor2=False):
    """The configs that fit `arch`: the first tier with any, else raises ScheduleError naming
    the smallest config, the limit it exceeds and the fix."""
    tiers = DEFAULT_SPACE[(family, kernel)]
    for tier in range(len(tiers)):
        kept = [c for c in space(family, kernel, fixed, tier) if misfit(family, kernel, c, dims, arch, taylor2) is None]
        if kept:
            return kept
    every = [c for t in range(len(tiers)) for c in space(family, kernel, fixed, t)]
    smallest = min(every, key=lambda c: estimate(family, kernel, c, dims, taylor2, arch))
    bd, bdv, es = dims
    given = ", ".join(f"{n} = {' | '.join(map(str, v))}" for n, v in sorted(fixed.items()))
    fix = (f"the spec's tile statement fixes {given}: allow smaller values" if given
           else "use smaller head dims or a 16-bit dtype")
    raise ScheduleError(f"no {kernel} tile config fits {arch[0]} at head dims {bd}/{bdv} with {es}-byte elements: "
                        f"the smallest, {describe(smallest)}, {misfit(family, kernel, smallest, dims, arch, taylor2)}; "
                        f"{fix}")


def describe(config):
    return " ".join(f"{k}={v}" for k, v in config.items())


def heuristic(family, kernel, fixed, dims, arch, taylor2=False):
    """The default config when nothing is tuned: under the interpreter small tiles (the spec's
    first values where it gives them); on a GPU the config of the pruned space closest to the
    family's target (distance: the sum of |log2| ratios; ties to the first in order)."""
    if arch is None:
        return {n: (fixed[n][0] if fixed.get(n) else v) for n, v in INTERPRETER_CONFIG[family].items()}
    target = TARGETS[(family, kernel)]
    if (family, kernel) in WIDE_TARGETS and max(dims[0], dims[1]) >= WIDE_HEAD_DIM:
        target = WIDE_TARGETS[(family, kernel)]
    kept = pruned_space(family, kernel, fixed, dims, arch, taylor2)
    return min(kept, key=lambda c: sum(abs(math.log2(c[n] / target[n])) for n in c))


MAX_BLOCK = 1024  # the largest block_m, block_n or chunk any kernel takes


def tile_problem(name, value):
    """Why `value` cannot be the tile `name` (any family), or None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return f"tile '{name}' must be an int; got {value!r}"
    power = value >= 1 and value & (value - 1) == 0
    if name in ("block_m", "block_n", "chunk") and not (power and 16 <= value <= MAX_BLOCK):
        return f"tile '{name}' must be a power of two, at least 16 and at most {MAX_BLOCK}; got {value}"
    if name == "warps" and value not in (1, 2, 4, 8, 16):
        return f"tile 'warps' must be 1, 2, 4, 8 or 16; got {value}"
    if name == "stages" and not 1 <= value <= 8:
        return f"tile 'stages' must be between 1 and 8; got {value}"
    return None


def config_problem(family, config):
    """Why `config` is not a whole config of the family (every tile name, each a valid value),
    or None: the check a tuning-cache entry or a compiled-in config passes before any use."""
    if not isinstance(config, dict):
        return f"a config must be a dict of tile names; got {type(config).__name__}"
    if sorted(config) != sorted(TILE_NAMES[family]):
        return f"its tile names {sorted(config)} are not {family} attention's"
    for name, value in config.items():
        problem = tile_problem(name, value)
        if problem:
            return problem
    return None


def checked_options(family, options):
    """The forward and backward configs given by a call's `kernel_options`: a dict of tile names
    for both kernels, optionally with "forward" / "backward" dicts for one; raises ScheduleError
    for an unknown name or a bad value. Returns {kernel: partial config}."""
    names = TILE_NAMES[family]
    if not isinstance(options, dict):
        raise ScheduleError(f"kernel_options must be a dict of tile names ({', '.join(names)}); "
                            f"got {type(options).__name__}")
    shared = {k: v for k, v in options.items() if k not in KERNELS}
    result = {}
    for kernel in KERNELS:
        own = options.get(kernel, {})
        if not isinstance(own, dict):
            raise ScheduleError(f"kernel_options['{kernel}'] must be a dict of tile names; got {type(own).__name__}")
        merged = dict(shared, **own)
        for name, value in merged.items():
            if name not in names:
                raise ScheduleError(f"kernel_options: unknown tile '{name}'; {family} kernels take "
                                    + ", ".join(names))
            problem = tile_problem(name, value)
            if problem:
                raise ScheduleError(f"kernel_options: {problem}")
        result[kernel] = merged
    return result


# ---------------------------------------------------------------- the tuning cache

def cache_dir():
    """The folder of attncc's caches: $ATTNCC_CACHE_DIR, else $XDG_CACHE_HOME/attncc, else ~/.cache/attncc."""
    if os.environ.get("ATTNCC_CACHE_DIR"):
        return os.environ["ATTNCC_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "attncc")


def cache_path():
    """The tuning cache file: $ATTNCC_TUNING_CACHE, else tuning.json in cache_dir()."""
    return os.environ.get("ATTNCC_TUNING_CACHE") or os.path.join(cache_dir(), "tuning.json")


def length_bucket(n):
    """The bucket of a sequence length: the next power of two, at least 64 (a tuned winner holds
    for every length in its bucket)."""
    return max(64, 1 << max(0, (n - 1).bit_length()))


def cache_key(spec_hash, kernel, device, dtype, d, dv, n, m, triton_version):
    """The cache key of a (spec, kernel, device, dtype, head dims, length bucket, triton) point."""
    return "|".join([spec_hash[:16], kernel, device, dtype, f"D{d}", f"DV{dv}", f"N{length_bucket(n)}",
                     f"M{length_bucket(m)}", f"triton{triton_version}"])


def key_fields(key):
    """The parts of a cache key, by name (the inverse of cache_key, lengths as buckets)."""
    spec, kernel, device, dtype, d, dv, n, m, triton = key.split("|")
    return {"spec": spec, "kernel": kernel, "device": device, "dtype": dtype, "D": int(d[1:]), "DV": int(dv[2:]),
            "N": int(n[1:]), "M": int(m[1:]), "triton": triton[len("triton"):]}


def read_cache(path):
    """(entries by key, problem): the cache's entries; a missing file is empty; a file that is
    not a tuning cache of this format gives no entries and a problem that says so."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return {}, None
    except (OSError, ValueError) as exc:
        return {}, f"tuning cache {path} is unreadable ({exc}); it is ignored (tuning again rewrites it)"
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or not isinstance(data.get("entries"), dict):
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        return {}, (f"tuning cache {path} has format {found!r}, not {CACHE_FORMAT!r}; it is ignored "
                    "(tuning again rewrites it)")
    entries = {k: e for k, e in data["entries"].items()
               if isinstance(e, dict) and isinstance(e.get("config"), dict) and k.count("|") == 8}
    dropped = len(data["entries"]) - len(entries)
    return entries, (f"tuning cache {path}: {dropped} malformed entries ignored" if dropped else None)


def store_entries(path, new_entries):
    """Add entries to the cache file under an exclusive lock (concurrent tuners keep each
    other's entries), written atomically (a reader sees the old file or the new one). A corrupt
    file is replaced. Returns the problem found in the old file, or None."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, mode=0o700, exist_ok=True)  # a cache folder: private to the user (docs/caching.md)
    with open(path + ".lock", "a") as lock:
        if fcntl is not None:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            entries, problem = read_cache(path)
            entries.update(new_entries)
            write_atomic(path, json.dumps({"format": CACHE_FORMAT, "entries": entries}, indent=1, sort_keys=True))
        finally:
            if fcntl is not None:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    return problem


def write_atomic(path, text):
    """Write `text` to `path` through a temporary file in the same folder and a rename: a reader
    sees the old file or the whole new one, never a part. (attncc's own files are written with
    it too.)"""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    prefix = f".{os.path.basename(path)}."
    _remove_orphans(folder, prefix)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


ORPHAN_SECONDS = 300  # a temporary file of write_atomic this old was left by a killed writer


def _remove_orphans(folder, prefix):
    """Delete the temporary files an earlier write_atomic of the same target left behind when
    it was killed before its rename (old enough that no writer is still at work on them)."""
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix) and n.endswith(".tmp")]
    except OSError:
        return
    now = time.time()
    for name in names:
        try:
            full = os.path.join(folder, name)
            if now - os.path.getmtime(full) > ORPHAN_SECONDS:
                os.unlink(full)
        except OSError:
            pass  # gone already, or not ours to remove


def stale_versions(entries, key):
    """The triton versions of entries that match `key` in everything but the triton version."""
    stem = key.rsplit("|", 1)[0] + "|"
    return sorted(key_fields(k)["triton"] for k in entries if k.startswith(stem) and k != key)


def benchmark(run, configs, timer, progress=None):
    """Time `run(config)` for each config with `timer(fn) -> ms`: a list of (config, ms or None,
    error or None), in order. A config that fails to compile or launch is recorded, not raised.
    `progress(i, n, config, ms, error)` is called after each."""
    results = []
    for index, config in enumerate(configs):
        try:
            ms, error = float(timer(lambda: run(config))), None
        except Exception as exc:  # a compile or resource failure of one config
            ms, error = None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        results.append((config, ms, error))
        if progress is not None:
            progress(index + 1, len(configs), config, ms, error)
    return results


def entry(config, ms, spec_name, shape, candidates):
    """A cache entry: the winner and what it was measured on."""
    return {"config": dict(config), "ms": ms, "spec": spec_name, "shape": list(shape), "candidates": candidates,
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def winner(results):
    """(config, ms) of the fastest config that ran; raises ScheduleError listing the failures
    when none did."""
    ran = [(ms, i) for i, (_, ms, error) in enumerate(results) if error is None]
    if not ran:
        reasons = "; ".join(f"{describe(c)}: {e}" for c, _, e in results[:4])
        raise ScheduleError(f"no tile config ran ({len(results)} tried): {reasons}")
    ms, index = min(ran)
    return results[index][0], ms


_NOTIFIED = set()


def notify(message):
    """Warn once per process about a cache problem (a bad cache never stops a call)."""
    if message not in _NOTIFIED:
        _NOTIFIED.add(message)
        warnings.warn(f"attncc: {message}", RuntimeWarning, stacklevel=3)
