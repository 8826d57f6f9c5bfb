"""The counted tile loops (macros.jinja, tile_loops; codegen/triton_softmax.py, loop_plan).

Where only the may-test guards a loop's tiles, the compiled kernels (constexpr COUNT_TILES)
count the tiles that may hold a pair and run them in a loop without the test when at least 9 in
10 may, else in a loop with it. The interpreter runs the tested loop only, so these tests switch
the count on under the interpreter (the module's `_COUNT_TILES`) and hold both loops to
TESTING.md's rule, at shapes where, by the tile facts, some programs take the one loop and some
the other, in the forward (key loops) and in the dK/dV kernel (query loops).
"""

import pytest
import torch

from attncc.checks.samples import sample_inputs, sample_params
from attncc.codegen.triton_softmax import softmax_context
from attncc.driver.pipeline import analyse, front_end
from attncc.ir import constfold
from attncc.symbolic.tile_counts import tile_env, visited_tiles
from conftest import ROOT
from support.reference_rule import assert_matches_reference, module

BLOCK = 32  # the interpreter's tiles (runtime/schedule.py, INTERPRETER_CONFIG)
# (spec, params, (B, H, HKV, N, M, D, DV)): 2-D windows on images wider than a tile (some key
# tiles in a query tile's row band miss its columns), a congruence mask with no closed-form
# range, and a dilated 1-D window.
CASES = [
    ("natten2d", {"width": 96, "radius": 1}, (1, 1, 1, 192, 192, 16, 16)),
    ("swin2d", {"width": 32, "window": 8, "shift": 2}, (1, 1, 1, 128, 128, 16, 32)),
    ("maxvit_grid", {"width": 8, "grid": 2}, (1, 1, 1, 128, 128, 16, 16)),
    ("natten1d", {"radius": 20, "dilation": 3}, (1, 1, 1, 160, 160, 32, 16)),
]


def _paths(name, params, shape):
    """Which loop (dense / tested) the programs of the forward and of dK/dV take, by the tile
    facts: {("key" | "query", "dense" | "tested")} over every program."""
    path = ROOT / "examples" / f"{name}.attn"
    spec = front_end(path.read_text(), str(path))
    analysed = analyse(spec)
    plans = softmax_context(analysed)
    facts = analysed.tiles
    B, H, HKV, N, M, D, DV = shape
    sizes = dict(B=B, H=H, HKV=HKV, N=N, M=M, D=D, DV=DV)
    params = sample_params(spec, params)
    taken = set()
    for h in range(H):
        env = tile_env(sizes, params, sample_inputs(spec, sizes, params, seed=1), 0, h)
        for side, ranges, own, other in (("key", facts.key_ranges, ("i", N), ("j", M)),
                                         ("query", facts.query_ranges, ("j", M), ("i", N))):
            assert [p["tests"] for p in plans[f"{side}_loops"]["plan"]] == ["may"], (name, side)
            for lo in range(0, own[1], BLOCK):
                env.update({f"{own[0]}_lo": lo, f"{own[0]}_hi": min(lo + BLOCK, own[1]) - 1})
                visited = sorted(visited_tiles(ranges, env, BLOCK, other[1]))
                may = 0
                for t in visited:
                    env.update({f"{other[0]}_lo": t * BLOCK, f"{other[0]}_hi": min(t * BLOCK + BLOCK, other[1]) - 1})
                    may += bool(constfold.evaluate(facts.may_be_true, env))
                if visited:
                    taken.add((side, "dense" if may * 10 >= len(visited) * 9 else "tested"))
    return taken


def test_the_cases_take_both_loops():
    taken = set().union(*(_paths(*case) for case in CASES))
    assert taken == {(side, path) for side in ("key", "query") for path in ("dense", "tested")}, taken


@pytest.mark.parametrize("name,params,shape", CASES, ids=[c[0] for c in CASES])
def test_counted_loops_match_the_reference(name, params, shape, monkeypatch):
    path = ROOT / "examples" / f"{name}.attn"
    spec = front_end(path.read_text(), str(path))
    monkeypatch.setattr(module(str(path), "triton"), "_COUNT_TILES", True)
    assert_matches_reference(str(path), spec, shape, torch.float32, sample_params(spec, params), seed=3)
