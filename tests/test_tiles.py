"""Tile classification and loop bounds (attncc.symbolic.tiles), checked against the dense reference mask.

Soundness by brute force: a tile called empty has no allowed pair, a tile called full has every
pair allowed, and every allowed (i, j) has j inside a key range of i's query tile and i inside a
query range of j's key tile. Usefulness: the masks with structure get empty and full tiles, and
the affine ones closed-form key ranges that visit fewer tiles than all.
"""

import itertools

import pytest

import attncc
from attncc import ir
from attncc.driver.pipeline import front_end
from attncc.ir.constfold import evaluate
from attncc.checks.samples import sample_inputs, sample_params
from attncc.symbolic.tile_counts import classify_tiles, reader, tile_counts, visited_tiles
from attncc.language.formatting import format_expr
from attncc.symbolic.tiles import I_HI, I_LO, J_HI, J_LO, analyse_tiles
from conftest import EXAMPLES

SMALL_PARAMS = {"window": 5, "width": 8, "radius": 1, "chunk": 8, "prefix": 6, "sinks": 2, "block": 2,
                "halo": 1, "grid": 2, "local": 6, "shards": 2, "shift": 1}
SOFTMAX_EXAMPLES = [p for p in EXAMPLES if not front_end(p.read_text(), str(p)).is_linear]
_FACTS: dict = {}


def _facts(spec):
    if spec.source_hash not in _FACTS:
        _FACTS[spec.source_hash] = analyse_tiles(spec)
    return _FACTS[spec.source_hash]


def _tile_vars(expr) -> set:
    return {n.name for n in ir.walk(expr) if isinstance(n, ir.Var)}


def check(source: str, N: int, M: int, block_m: int, block_n: int, params=None, B=2, H=2, seed=0):
    """Brute-force soundness of the facts of `source` at these sizes; returns the tile counts."""
    spec = front_end(source, "<test>")
    facts = _facts(spec)
    for expr in (facts.may_be_true, facts.must_be_true):
        assert not _tile_vars(expr) & {"i", "j", "s"} and expr.type == ir.BOOL
    for ranges, other in ((facts.key_ranges, {"j_lo", "j_hi"}), (facts.query_ranges, {"i_lo", "i_hi"})):
        for lo, hi in ranges or ():
            assert lo.type == hi.type == ir.INT and not (_tile_vars(lo) | _tile_vars(hi)) & (other | {"i", "j", "s"})
    given = {k: v for k, v in (params or {}).items() if spec.param(k)}
    params = sample_params(spec, given)
    sizes = {"B": B, "H": H, "HKV": H, "N": N, "M": M, "D": 4, "DV": 4}
    inputs = sample_inputs(spec, sizes, params, seed=seed)
    mask = attncc.load(source, backend="torch")._mask(sizes, params, inputs)
    for b, h in itertools.product(range(B), range(H)):
        grid = classify_tiles(facts, sizes, params, inputs, block_m, block_n, b, h)
        env = {**sizes, **params, "b": b, "h": h, **{k: reader(v) for k, v in inputs.items()}}
        for ti, i0 in enumerate(range(0, N, block_m)):
            for tj, j0 in enumerate(range(0, M, block_n)):
                tile = mask[b, h, i0:i0 + block_m, j0:j0 + block_n]
                where = f"b={b} h={h} i0={i0} j0={j0}"
                assert grid[ti][tj] != "empty" or not tile.any(), f"tile called empty has allowed pairs at {where}"
                assert grid[ti][tj] != "full" or tile.all(), f"tile called full has masked pairs at {where}"
            env.update(i_lo=i0, i_hi=min(i0 + block_m, N) - 1)
            allowed = mask[b, h, i0:i0 + block_m].any(dim=0).nonzero().flatten().tolist()
            _inside(facts.key_ranges, env, allowed, f"keys of b={b} h={h} i0={i0}")
            _implied(facts, facts.key_ranges, facts.key_ranges_imply_may, env, "j", block_n, M, f"b={b} h={h} i0={i0}")
        for j0 in range(0, M, block_n):
            env.update(j_lo=j0, j_hi=min(j0 + block_n, M) - 1)
            allowed = mask[b, h, :, j0:j0 + block_n].any(dim=1).nonzero().flatten().tolist()
            _inside(facts.query_ranges, env, allowed, f"queries of b={b} h={h} j0={j0}")
            _implied(facts, facts.query_ranges, facts.query_ranges_imply_may, env, "i", block_m, N, f"b={b} h={h} j0={j0}")
    return tile_counts(facts, sizes, params, inputs, block_m, block_n)


def _implied(facts, ranges, implied, env, var, block, limit, where):
    """Every tile a range's loop visits passes the may-test where the range claims it does."""
    for (lo, hi), proved in zip(ranges or (), implied):
        if not proved:
            continue
        for t in visited_tiles(((lo, hi),), env, block, limit):
            tile = {f"{var}_lo": t * block, f"{var}_hi": min(t * block + block, limit) - 1}
            assert evaluate(facts.may_be_true, {**env, **tile}), \
                f"{where}: range [{format_expr(lo)}, {format_expr(hi)}) visits tile {tile}, which fails the may-test"


def _inside(ranges, env, allowed, where):
    if ranges is None:
        return
    bounds = [(evaluate(lo, env), evaluate(hi, env)) for lo, hi in ranges]
    for x in allowed:
        assert any(lo <= x < hi for lo, hi in bounds), f"{where}: {x} is allowed but outside {bounds}"


SIZES = [(17, 17, 8, 8), (40, 40, 16, 8), (64, 64, 8, 16), (40, 17, 8, 8), (17, 64, 16, 16), (64, 40, 16, 8)]


@pytest.mark.parametrize("path", SOFTMAX_EXAMPLES, ids=lambda p: p.stem)
def test_examples_are_classified_soundly(path):
    source = path.read_text()
    for N, M, bm, bn in SIZES:
        check(source, N, M, bm, bn, SMALL_PARAMS)
    check(source, 64, 64, 16, 16, {})  # the defaults


@pytest.mark.parametrize("path", [p for p in SOFTMAX_EXAMPLES if p.stem in ("natten1d", "natten2d", "halo2d", "swin2d",
                                                                          "maxvit_grid", "rpb2d")], ids=lambda p: p.stem)
@pytest.mark.parametrize("dilation", [1, 2, 3])
def test_two_dimensional_examples_with_other_params(path, dilation):
    params = {**SMALL_PARAMS, "dilation": dilation, "width": 4 + dilation, "window": 2 + dilation, "shift": dilation - 1}
    for N, M, bm, bn in [(40, 40, 8, 8), (36, 36, 4, 8), (25, 30, 8, 4)]:
        check(path.read_text(), N, M, bm, bn, params)


BASE = {"window": 48, "radius": 2, "chunk": 16, "prefix": 24, "sinks": 4, "local": 48, "block": 16}
USEFUL = {  # name: (params, N, block size)
    **{name: (BASE, 256, 16) for name in ("causal", "sliding_window", "streaming_sink", "prefix_lm", "document_causal",
                                          "chunk_causal", "per_head_window", "s2_sharded", "duo_heads")},
    "natten1d": ({"radius": 16}, 256, 16),
    "rpb1d": ({"radius": 40}, 256, 16),
    "natten2d": ({"width": 24, "radius": 8}, 24 * 24, 8),
    "swin2d": ({"width": 16, "window": 8}, 256, 8),
    "rpb2d": ({"width": 16, "window": 8}, 256, 8),
    "halo2d": ({"width": 16, "block": 8, "halo": 1}, 256, 8),
}
NO_QUERY_FORM = set()  # natten's shifted window start, a min/max of i, is inverted too (tiles._inverted)
NO_KEY_FORM = {"s2_sharded"}  # its shard blocks are not affine: the causal range is all it gets


@pytest.mark.parametrize("name", sorted(USEFUL))
def test_structured_masks_get_empty_and_full_tiles_and_closed_forms(name):
    source = (EXAMPLES[0].parent / f"{name}.attn").read_text()
    params, N, block = USEFUL[name]
    counts = check(source, N, N, block, block, params, B=1, H=2)
    assert counts["empty"] > 0 and counts["full"] > 0, counts
    assert counts["empty"] + counts["full"] + counts["partial"] == counts["total"]
    facts = _facts(front_end(source))
    assert facts.key_ranges is not None
    assert (facts.query_ranges is None) == (name in NO_QUERY_FORM)
    if name not in NO_KEY_FORM:
        assert counts["visited"] < counts["total"], counts


def test_closed_forms_of_the_usual_masks():
    from attncc.language.formatting import format_expr

    def ranges(mask, side="key_ranges"):
        params = "param window: int = 4\nparam sinks: int = 2\nparam prefix: int = 3\nparam c: int = 4\n"
        facts = analyse_tiles(front_end(f"attention t\n{params}mask = {mask}\n"))
        found = getattr(facts, side)
        return found if found is None else [(format_expr(lo), format_expr(hi)) for lo, hi in found]

    assert ranges("j <= i") == [("0", "min(i_hi + 1, M)")]
    assert ranges("j <= i", "query_ranges") == [("j_lo", "N")]
    assert ranges("j <= i and i - j < window") == [("max(i_lo - window + 1, 0)", "min(i_hi + 1, M)")]
    assert ranges("j <= i and i - j < window", "query_ranges") == [("j_lo", "min(window + j_hi, N)")]
    assert ranges("j < sinks or (j <= i and i - j < window)") == [
        ("0", "min(sinks, M)"), ("max(i_lo - window + 1, 0)", "min(i_hi + 1, M)")]
    # a sink key is seen by every query; a key past the sinks only by its window
    assert ranges("j < sinks or (j <= i and i - j < window)", "query_ranges") == [
        ("0", "where(j_lo < sinks, N, 0)"), ("j_lo", "min(window + j_hi, N)")]
    assert ranges("j < prefix or j <= i") == [("0", "min(prefix, M)"), ("0", "min(i_hi + 1, M)")]
    assert ranges("j <= i + M - N") == [("0", "min(i_hi + M - N + 1, M)")]
    assert ranges("abs(i - j) <= window") == [("max(i_lo - window, 0)", "min(window + i_hi + 1, M)")]
    assert ranges("i // 4 == j // 4 and j <= i") == [("4 * (i_lo // 4)", "min(min(4 * (i_hi // 4 + 1), i_hi + 1), M)")]
    assert ranges("i // c == j // c and j <= i") == [  # a param divisor: assumed positive, guarded
        ("where(c > 0, max(c * (i_lo // c), 0), 0)", "where(c > 0, min(min(c * (i_hi // c + 1), i_hi + 1), M), M)")]
    assert ranges("j % 2 == 0") is None and ranges("true") is None
    assert ranges("false") == []


def test_facts_mention_only_tile_bounds():
    facts = analyse_tiles(front_end("attention t\nparam w: int = 4\nmask = j <= i and i - j < w\n"))
    names = _tile_vars(facts.may_be_true) | _tile_vars(facts.must_be_true)
    assert names <= {"i_lo", "i_hi", "j_lo", "j_hi", "w"}
    assert {I_LO, I_HI, J_LO, J_HI} == {ir.Var(n, "int", "tile") for n in ("i_lo", "i_hi", "j_lo", "j_hi")}


HAND_WRITTEN = {
    "negative_floordiv": "mask = (i - j) // 3 == (j - i - 5) // 4 or (j - 2 * i) // 5 >= -3",
    "negative_mod": "mask = (j - i) % 5 < 3 and (i - 2 * j) % 7 != 0",
    "negative_divisor": "mask = (i - j) // -3 <= 1 and (i + j) % -4 > -2",
    "param_divisor": "param d: int = 3\nmask = (i - j) // d <= 1 and (j - 1) % d == 0",
    "float_param": "param t: float = 2.5\nmask = (i - j) * 0.5 < t and exp(0.1 * (j - i)) > 0.3",
    "float_division": "param t: float = 2.5\nmask = (j - i) / t >= -1.5 and abs(i - j) / 2 <= t",
    "not_and_ne": "mask = not (j > i) and i != j + 3 and not (i - j == 7)",
    "where": "param w: int = 3\nmask = where(i > 10, j <= i, i - j < w and j <= i) and where(j % 2 == 0, i, j) >= 4",
    "where_number": "mask = j <= where(i < 20, i, 2 * i - 20)",
    "abs_outside": "mask = abs(i - j) > 3 and abs(2 * j - i) >= 1",
    "min_max_clamp": "mask = min(i, 20) >= j and max(j, 5) <= clamp(i, 3, 30)",
    "bool_equality": "mask = (j <= i) == (i < 10) and (j < 5) != (i < 3)",
    "mul_of_ranges": "mask = (i - 8) * (j - 8) >= 0",
    "unsorted_load": "input t[N]: int32\nmask = t[i] <= j",
    "sorted_by_key": "input doc[B, M]: int32 sorted\nmask = doc[b, j] == doc[b, i] and doc[b, j - 3] >= 1",
    "sorted_float": "input pos[N]: float32 sorted\nmask = pos[N - 1 - i] <= j * 0.5",
    "sorted_float_shifted": "input pos[B, M]: float32 sorted\nmask = pos[b, j - 3] < -0.3 + 0.01 * i or pos[b, 2 * j + 5] > 0.4",
    "guard_load": "input on[H]: bool\nparam w: int = 4\nmask = (on[h] and i - j < w) or j < 2",
    "double_floor": "mask = (j // 3 + 1) // 2 >= i // 4 and j % 3 <= i % 3",
    "chained": "param r: int = 5\nmask = -r <= i - 2 * j < r",
}


@pytest.mark.parametrize("name", sorted(HAND_WRITTEN))
def test_hand_written_masks_are_sound(name):
    source = f"attention {name}\n{HAND_WRITTEN[name]}\n"
    for N, M, bm, bn in [(40, 40, 8, 8), (33, 21, 4, 8), (21, 40, 8, 4), (64, 64, 16, 16)]:
        for seed in (0, 1):
            check(source, N, M, bm, bn, {}, seed=seed)


# The ranges whose tiles need no may-test (tile_proofs.py): the kernels drop the `if` there.
PROVED = {"causal": ((True,), (True,)), "sliding_window": ((True,), (True,)), "alibi": ((True,), (True,)),
          "softcap": ((True,), (True,)), "prefix_lm": ((True, True), (True, False)),
          "streaming_sink": ((True, True), (False, True)), "rpb1d": ((False,), (False,)),
          "document_causal": ((False,), (False,)), "natten2d": ((False,), (False,))}


@pytest.mark.parametrize("name", sorted(PROVED))
def test_loop_ranges_that_imply_the_may_test(name):
    facts = _facts(front_end((EXAMPLES[0].parent / f"{name}.attn").read_text()))
    assert (facts.key_ranges_imply_may, facts.query_ranges_imply_may) == PROVED[name]


def test_the_range_prover_proves_only_what_follows():
    from attncc.symbolic.intervals import I_HI, J_LO, make_const, make_op
    from attncc.symbolic.tile_proofs import loop_facts, proves

    M = ir.Var("M", "int", "size")
    facts = loop_facts("j", make_const(0), make_op("min", make_op("add", I_HI, make_const(1)), M))
    assert proves(make_op("le", J_LO, I_HI), facts)
    assert not proves(make_op("lt", J_LO, I_HI), facts)  # the diagonal tile has j_lo == i_hi
    assert not proves(make_op("ne", J_LO, I_HI), facts)  # not an affine comparison: never proved
    assert proves(make_op("or", make_op("lt", J_LO, I_HI), make_op("le", J_LO, I_HI)), facts)


def test_visited_tiles_of_no_ranges_is_everything():
    assert visited_tiles(None, {}, 16, 40) == {0, 1, 2}
    assert visited_tiles(((ir.Const(3, "int"), ir.Const(17, "int")),), {}, 16, 40) == {0, 1}


def test_the_provers_block_size_is_not_a_specs_block_param():
    """A spec may name a param `block` (halo2d does): it must stay another unknown, and simplify
    must map its symbol back to the param, not to the loop's block size."""
    from attncc.symbolic.simplify import from_sympy, to_sympy
    from attncc.symbolic.tile_proofs import BLOCK

    param = ir.Var("block", "int", "param")
    assert to_sympy(BLOCK) != to_sympy(param)
    assert from_sympy(to_sympy(param)) == param
    source = "attention b\nparam block: int = 4\nmask = j <= i and i - j < block\n"
    for params in ({"block": 4}, {"block": 0}, {"block": -3}):
        check(source, 33, 33, 8, 8, params)
