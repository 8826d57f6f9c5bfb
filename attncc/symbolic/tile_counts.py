"""Evaluate tile facts in Python: which tiles are empty, full or partial, and which a loop visits.

Before: `TileFacts` from `tiles.analyse_tiles` and concrete sizes, params and inputs. After: the
same decisions the kernels make at run time, computed with `constfold.evaluate` — for
`attncc show`'s tile counts and for the brute-force tests of the analysis. Inputs are tensors,
nested lists or callables; a read outside an input gives 0 (False), as the language says.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..ir import constfold
from .tiles import TileFacts


def reader(table) -> Any:
    """A callable read of a tensor or nested list where an index outside gives 0 (False)."""
    if callable(table):
        return table
    if hasattr(table, "tolist"):
        table = table.tolist()
    shape, probe = [], table
    while isinstance(probe, (list, tuple)):
        shape.append(len(probe))
        probe = probe[0] if probe else 0
    zero = False if isinstance(probe, bool) else 0

    def read(*index):
        value = table
        for k, n in zip(index, shape):
            if not 0 <= k < n:
                return zero
            value = value[k]
        return value
    return read


def tile_env(sizes: Mapping, params: Mapping, inputs: Mapping, b: int, h: int) -> dict:
    return {**sizes, **params, **{k: reader(v) for k, v in inputs.items()}, "b": b, "h": h}


def classify_tiles(facts: TileFacts, sizes: Mapping, params: Mapping, inputs: Mapping,
                   block_m: int, block_n: int, b: int, h: int) -> list[list[str]]:
    """The grid [ceil(N / block_m)][ceil(M / block_n)] of "empty" | "full" | "partial" for (b, h)."""
    env = tile_env(sizes, params, inputs, b, h)
    N, M = sizes["N"], sizes["M"]
    grid = []
    for i0 in range(0, N, block_m):
        row = []
        for j0 in range(0, M, block_n):
            env.update(i_lo=i0, i_hi=min(i0 + block_m, N) - 1, j_lo=j0, j_hi=min(j0 + block_n, M) - 1)
            if not constfold.evaluate(facts.may_be_true, env):
                row.append("empty")
            else:
                row.append("full" if constfold.evaluate(facts.must_be_true, env) else "partial")
        grid.append(row)
    return grid


def visited_tiles(ranges, env: dict, block: int, limit: int) -> set:
    """The block numbers a loop over `ranges` (evaluated in `env`) visits; all of them for None."""
    if ranges is None:
        return set(range(-(-limit // block)))
    out = set()
    for lo_e, hi_e in ranges:
        lo, hi = max(constfold.evaluate(lo_e, env), 0), min(constfold.evaluate(hi_e, env), limit)
        if lo < hi:
            out.update(range(lo // block, (hi - 1) // block + 1))
    return out


def tile_counts(facts: TileFacts, sizes: Mapping, params: Mapping, inputs: Mapping,
                block_m: int, block_n: int) -> dict:
    """{"empty", "full", "partial", "visited", "total"} tile counts summed over every (b, h);
    "visited" counts the tiles inside the key ranges (what the kernel's loop visits)."""
    counts = dict.fromkeys(("empty", "full", "partial", "visited", "total"), 0)
    N, M = sizes["N"], sizes["M"]
    for b in range(sizes["B"]):
        for h in range(sizes["H"]):
            for row in classify_tiles(facts, sizes, params, inputs, block_m, block_n, b, h):
                for kind in row:
                    counts[kind] += 1
            env = tile_env(sizes, params, inputs, b, h)
            for i0 in range(0, N, block_m):
                env.update(i_lo=i0, i_hi=min(i0 + block_m, N) - 1)
                counts["visited"] += len(visited_tiles(facts.key_ranges, env, block_n, M))
            counts["total"] += -(-N // block_m) * -(-M // block_n)
    return counts
