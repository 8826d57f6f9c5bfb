"""Schedules (attncc/runtime/schedule.py): the space, pruning by architecture, kernel_options, the
heuristic default, and the tuning cache (round trip, corrupt files, concurrent writers, stale
triton versions), also as the generated modules use them under the interpreter."""

import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch

import attncc
from attncc.runtime import schedule
from attncc.driver.pipeline import compile_source, front_end
from attncc.driver.loader import import_file
from support.resource_fit import estimated_records

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
HEAD_DIMS = sorted(set(range(16, 257, 16)) | {24, 40, 72, 80, 96, 100, 160, 200, 256})
SM90, SM86 = schedule.ARCHITECTURES[90], schedule.ARCHITECTURES[86]


def test_architectures_by_capability():
    assert schedule.architecture((9, 0)) == ("sm90", 232448)
    assert schedule.architecture((8, 0)) == ("sm80", 166912)
    assert schedule.architecture((8, 7)) == ("sm86", 101376)  # the closest older one listed
    assert schedule.architecture((10, 3)) == ("sm100", 232448)
    assert schedule.architecture((12, 0)) == ("sm120", 101376)
    assert schedule.architecture((7, 5)) is None


def test_a_config_over_the_shared_memory_limit_is_rejected_naming_the_limit():
    dims = schedule.padded_dims(256, 256, 4)
    big = {"block_m": 128, "block_n": 128, "warps": 8, "stages": 4}
    shared, _ = schedule.estimate("softmax", "forward", big, dims)
    assert shared > SM86[1]
    why = schedule.misfit("softmax", "forward", big, dims, SM86)
    assert why == f"needs about {shared:,} bytes of shared memory; sm86 allows 101,376 per block"
    assert schedule.misfit("softmax", "forward", big, dims, None) is None  # the interpreter has no limit


def test_a_config_over_the_register_limit_is_rejected():
    dims = schedule.padded_dims(256, 256, 2)
    config = {"block_m": 128, "block_n": 128, "warps": 4, "stages": 1}
    _, registers = schedule.estimate("softmax", "forward", config, dims)
    assert registers > schedule.MAX_REGISTERS
    assert "registers per thread" in schedule.misfit("softmax", "forward", config, dims, schedule.ARCHITECTURES[100])


def test_when_nothing_fits_the_error_names_the_tile_and_the_limit():
    fixed = {"block_m": (128,), "block_n": (128,), "stages": (4,)}
    with pytest.raises(schedule.ScheduleError) as info:
        schedule.pruned_space("softmax", "forward", fixed, schedule.padded_dims(256, 256, 4), SM86)
    message = str(info.value)
    assert message.startswith("no forward tile config fits sm86 at head dims 256/256 with 4-byte elements: "
                              "the smallest, block_m=128 block_n=128 warps=8 stages=4, needs about ")
    assert "bytes of shared memory; sm86 allows 101,376 per block" in message
    assert message.endswith("the spec's tile statement fixes block_m = 128, block_n = 128, stages = 4: "
                            "allow smaller values")


@pytest.mark.parametrize("arch", sorted(schedule.ARCHITECTURES))
@pytest.mark.parametrize("elsize", [2, 4], ids=["16-bit", "fp32"])
def test_the_default_space_never_prunes_to_nothing_for_head_dims_16_to_256(arch, elsize):
    for kernel in schedule.KERNELS:
        for d in HEAD_DIMS:
            for dv in (d, 64, 128):
                dims = schedule.padded_dims(d, dv, elsize)
                kept = schedule.pruned_space("softmax", kernel, {}, dims, schedule.ARCHITECTURES[arch])
                assert kept, (kernel, d, dv)
                default = schedule.heuristic("softmax", kernel, {}, dims, schedule.ARCHITECTURES[arch])
                assert default in kept


@pytest.mark.parametrize("arch", sorted(schedule.ARCHITECTURES))
def test_the_linear_default_space_fits_head_dims_16_to_64(arch):
    # The linear kernels keep the whole state [D, DV] in registers and shared memory: D = 128
    # and up wait for the split of DV across programs (docs/tuning.md). In fp32 a norm = sum
    # state padded to [64, 128] needs more than the 99 KB architectures have.
    big = schedule.ARCHITECTURES[arch][1] > 160_000
    for kernel in schedule.KERNELS:
        for d in (16, 24, 32, 48, 64):
            for elsize in (2, 4) if big else (2,):
                for dv in (d, d + 1):
                    dims = schedule.padded_dims(d, dv, elsize)
                    assert schedule.pruned_space("linear", kernel, {}, dims, schedule.ARCHITECTURES[arch])
            dims = schedule.padded_dims(d, d, 4)
            assert schedule.pruned_space("linear", kernel, {}, dims, schedule.ARCHITECTURES[arch])


def test_the_spec_tile_statement_is_the_space():
    fixed = {"block_m": (64, 128), "stages": (2,)}
    configs = schedule.space("softmax", "forward", fixed)
    assert {c["block_m"] for c in configs} == {64, 128}
    assert {c["stages"] for c in configs} == {2}
    assert {c["block_n"] for c in configs} == {32, 64, 128}  # the default's where the spec is silent
    assert len(configs) == 2 * 3 * 2
    assert schedule.heuristic("softmax", "forward", fixed, schedule.padded_dims(64, 64, 2), None) == \
        {"block_m": 64, "block_n": 32, "warps": 4, "stages": 2}  # interpreter: the spec's first values


def test_the_heuristic_is_the_fitting_config_closest_to_the_target():
    dims = schedule.padded_dims(64, 64, 2)
    assert schedule.heuristic("softmax", "forward", {}, dims, SM90) == schedule.TARGETS[("softmax", "forward")]
    wide = schedule.padded_dims(256, 256, 4)
    chosen = schedule.heuristic("softmax", "forward", {}, wide, SM86)
    assert schedule.misfit("softmax", "forward", chosen, wide, SM86) is None


@pytest.mark.parametrize("options, message", [
    ([64], "kernel_options must be a dict of tile names (block_m, block_n, warps, stages); got list"),
    ({"block_k": 64}, "kernel_options: unknown tile 'block_k'; softmax kernels take block_m, block_n, warps, stages"),
    ({"block_m": 48}, "kernel_options: tile 'block_m' must be a power of two, at least 16 and at most 1024; got 48"),
    ({"block_n": 8}, "kernel_options: tile 'block_n' must be a power of two, at least 16 and at most 1024; got 8"),
    ({"warps": 3}, "kernel_options: tile 'warps' must be 1, 2, 4, 8 or 16; got 3"),
    ({"stages": 0}, "kernel_options: tile 'stages' must be between 1 and 8; got 0"),
    ({"block_m": 64.0}, "kernel_options: tile 'block_m' must be an int; got 64.0"),
    ({"backward": 3}, "kernel_options['backward'] must be a dict of tile names; got int"),
    ({"chunk": 64}, "kernel_options: unknown tile 'chunk'; softmax kernels take block_m, block_n, warps, stages"),
])
def test_kernel_options_errors(options, message):
    with pytest.raises(schedule.ScheduleError) as info:
        schedule.checked_options("softmax", options)
    assert str(info.value) == message


def test_kernel_options_for_both_kernels_and_for_one():
    got = schedule.checked_options("softmax", {"block_m": 32, "backward": {"block_m": 16, "stages": 1}})
    assert got == {"forward": {"block_m": 32}, "backward": {"block_m": 16, "stages": 1}}
    assert schedule.checked_options("linear", {"chunk": 16}) == {"forward": {"chunk": 16}, "backward": {"chunk": 16}}


# ---------------------------------------------------------------- the cache file

def _key(n=100, triton_version="3.6.0", kernel="forward", d=64):
    return schedule.cache_key("ab" * 32, kernel, "NVIDIA H200", "bfloat16", d, d, n, n, triton_version)


def test_keys_bucket_lengths_and_round_trip(tmp_path):
    assert schedule.length_bucket(1) == 64 and schedule.length_bucket(64) == 64
    assert schedule.length_bucket(65) == 128 and schedule.length_bucket(4096) == 4096
    assert _key(1000) == _key(1024) != _key(1025)
    assert schedule.key_fields(_key(1000)) == {"spec": "ab" * 8, "kernel": "forward", "device": "NVIDIA H200",
                                               "dtype": "bfloat16", "D": 64, "DV": 64, "N": 1024, "M": 1024,
                                               "triton": "3.6.0"}
    path = str(tmp_path / "sub" / "tuning.json")
    assert schedule.read_cache(path) == ({}, None)
    winner = schedule.entry({"block_m": 128, "block_n": 64, "warps": 8, "stages": 3}, 0.25, "causal", [1] * 7, 12)
    assert schedule.store_entries(path, {_key(): winner}) is None
    entries, problem = schedule.read_cache(path)
    assert problem is None and entries == {_key(): winner}
    assert json.loads(Path(path).read_text())["format"] == schedule.CACHE_FORMAT


@pytest.mark.parametrize("text, expected", [
    ("{not json", "is unreadable"),
    ('{"format": "attncc-tuning/0", "entries": {}}', "has format 'attncc-tuning/0', not 'attncc-tuning/1'"),
    ("[1, 2]", "has format 'list'"),
])
def test_a_corrupt_or_stale_file_is_reported_ignored_and_replaced(tmp_path, text, expected):
    path = tmp_path / "tuning.json"
    path.write_text(text)
    entries, problem = schedule.read_cache(str(path))
    assert entries == {} and expected in problem and str(path) in problem and "ignored" in problem
    winner = schedule.entry({"block_m": 64, "block_n": 64, "warps": 4, "stages": 2}, 1.0, "x", [1] * 7, 1)
    assert expected in schedule.store_entries(str(path), {_key(): winner})
    assert schedule.read_cache(str(path)) == ({_key(): winner}, None)


def test_malformed_entries_are_dropped(tmp_path):
    path = tmp_path / "tuning.json"
    good = schedule.entry({"chunk": 64, "warps": 4}, 1.0, "x", [1] * 7, 1)
    path.write_text(json.dumps({"format": schedule.CACHE_FORMAT,
                                "entries": {_key(): good, "short|key": good, _key(5000): {"ms": 1}}}))
    entries, problem = schedule.read_cache(str(path))
    assert entries == {_key(): good}
    assert problem.endswith("2 malformed entries ignored")


WRITER = """
import importlib.util, os, sys, time
spec = importlib.util.spec_from_file_location("schedule", sys.argv[1])
schedule = importlib.util.module_from_spec(spec)
spec.loader.exec_module(schedule)
worker = int(sys.argv[3])
while not os.path.exists(sys.argv[2] + ".go"):  # start together
    time.sleep(0.001)
for i in range(150):
    key = schedule.cache_key("ab" * 32, "forward", "NVIDIA H200", "bfloat16", worker * 1000 + i, 64, 1, 1, "3.6.0")
    entry = schedule.entry({"block_m": 64, "block_n": 64, "warps": 4, "stages": 2}, float(i), "w", [worker], 1)
    schedule.store_entries(sys.argv[2], {key: entry})
"""


def test_concurrent_writers_keep_each_others_entries(tmp_path):
    """Two processes add 150 entries each to one file at the same time: all 300 are kept."""
    path = str(tmp_path / "tuning.json")
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, schedule.__file__, path, str(w)]) for w in (1, 2)]
    time.sleep(0.5)
    Path(path + ".go").touch()
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    entries, problem = schedule.read_cache(path)
    assert problem is None
    assert len(entries) == 300
    assert not list(tmp_path.glob(".tuning.*.tmp"))


def test_stale_triton_versions_are_found():
    entries = {_key(triton_version="3.5.0"): {}, _key(triton_version="3.4.0"): {}, _key(kernel="backward"): {}}
    assert schedule.stale_versions(entries, _key(triton_version="3.6.0")) == ["3.4.0", "3.5.0"]
    assert schedule.stale_versions(entries, _key(kernel="backward")) == []


# ---------------------------------------------------------------- the generated modules

@pytest.fixture
def cache(tmp_path, monkeypatch):
    path = tmp_path / "tuning.json"
    monkeypatch.setenv("ATTNCC_TUNING_CACHE", str(path))
    return path


def _fresh_module(tmp_path, spec_path, name, tuned=None):
    """A newly imported module (its own process-wide memo), compiled with `tuned` configs."""
    source = spec_path.read_text()
    file = tmp_path / f"{name}.py"
    file.write_text(compile_source(source, str(spec_path), "triton", tuned).code)
    return import_file(file, f"{name}_{id(file)}")


def _call(mod, N=40, D=16, backward=True, **kwargs):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, N, D, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3))
    o = mod.attention(q, k, v, **kwargs)
    if backward:
        o.sum().backward()
    return o, q.grad, k.grad, v.grad


def _module_key(mod, kernel, N=40, D=16):
    import triton

    return schedule.cache_key(mod.SPEC_HASH, kernel, "interpreter", "float64", D, D, N, N, triton.__version__)


def test_a_cached_winner_is_used_and_a_miss_takes_the_default(tmp_path, cache):
    mod = _fresh_module(tmp_path, EXAMPLES / "causal.attn", "causal_cached")
    winner = {"block_m": 16, "block_n": 64, "warps": 4, "stages": 1}
    schedule.store_entries(str(cache), {_module_key(mod, "forward"): schedule.entry(winner, 1.0, "causal", [1] * 7, 3)})
    _call(mod)
    chosen = mod.chosen_tiles()
    assert chosen[_module_key(mod, "forward")] == (winner, "tuning cache")
    assert chosen[_module_key(mod, "backward")] == (schedule.INTERPRETER_CONFIG["softmax"], "default")


def test_a_corrupt_cache_warns_once_and_the_call_goes_on(tmp_path, cache):
    cache.write_text("{oops")
    mod = _fresh_module(tmp_path, EXAMPLES / "causal.attn", "causal_corrupt")
    with pytest.warns(RuntimeWarning, match="is unreadable"):
        o, *_ = _call(mod)
    assert torch.isfinite(o).all()


def test_entries_of_another_triton_version_are_reported_and_ignored(tmp_path, cache):
    import triton

    mod = _fresh_module(tmp_path, EXAMPLES / "causal.attn", "causal_stale")
    old = _module_key(mod, "forward").replace(f"triton{triton.__version__}", "triton0.0.1")
    schedule.store_entries(str(cache), {old: schedule.entry({"block_m": 16, "block_n": 16, "warps": 4, "stages": 1},
                                                             1.0, "causal", [1] * 7, 3)})
    with pytest.warns(RuntimeWarning, match="configs for triton 0.0.1, not"):
        _call(mod, backward=False)
    assert mod.chosen_tiles()[_module_key(mod, "forward")][1] == "default"


def test_configs_compiled_in_are_used_when_the_cache_has_none(tmp_path, cache):
    mod = _fresh_module(tmp_path, EXAMPLES / "causal.attn", "causal_baked")
    stem = _module_key(mod, "backward").rsplit("|", 1)[0]
    baked = {"block_m": 64, "block_n": 16, "warps": 4, "stages": 1}
    mod = _fresh_module(tmp_path, EXAMPLES / "causal.attn", "causal_baked2", tuned={stem: baked})
    assert mod._TUNED == {stem: baked}
    _call(mod)
    assert mod.chosen_tiles()[_module_key(mod, "backward")] == (baked, "compiled in")


def test_autotune_on_request_tunes_once_and_keeps_the_winner(tmp_path, cache):
    mod = _fresh_module(tmp_path, EXAMPLES / "retnet.attn", "retnet_autotune")
    mod._AUTOTUNE, mod._TUNE_LIMIT = "1", 2
    seen = []
    mod._TUNE_PROGRESS = lambda i, n, config, ms, error: seen.append((i, n, error))
    _call(mod)
    assert seen == [(1, 2, None), (2, 2, None)] * 2
    chosen = mod.chosen_tiles()
    assert {source for _, source in chosen.values()} == {"tuned now"}
    entries, _ = schedule.read_cache(str(cache))
    assert set(entries) == set(chosen)
    again = _fresh_module(tmp_path, EXAMPLES / "retnet.attn", "retnet_reads_cache")
    _call(again)
    assert {source for _, source in again.chosen_tiles().values()} == {"tuning cache"}


@pytest.mark.parametrize("value, mode", [("1", "1"), ("always", "always"), ("0", ""), ("off", ""), ("", "")])
def test_attncc_autotune_is_read_from_the_environment(tmp_path, cache, monkeypatch, value, mode):
    monkeypatch.setenv("ATTNCC_AUTOTUNE", value)
    assert _fresh_module(tmp_path, EXAMPLES / "causal.attn", f"causal_env_{mode or 'off'}")._AUTOTUNE == mode


def test_autotune_always_tunes_each_bucket_once_per_process(tmp_path, cache):
    mod = _fresh_module(tmp_path, EXAMPLES / "causal.attn", "causal_always")
    schedule.store_entries(str(cache), {_module_key(mod, "forward"): schedule.entry(
        {"block_m": 16, "block_n": 16, "warps": 4, "stages": 1}, 9.0, "causal", [1] * 7, 1)})
    mod._AUTOTUNE, mod._TUNE_LIMIT = "always", 2
    seen = []
    mod._TUNE_PROGRESS = lambda i, n, config, ms, error: seen.append(i)
    _call(mod, backward=False)
    _call(mod, backward=False)
    assert seen == [1, 2]  # the cached winner was measured again, once
    assert mod.chosen_tiles()[_module_key(mod, "forward")][1] == "tuned now"


def test_kernel_options_that_do_not_fit_the_gpu_fail_before_any_kernel(tmp_path, cache, monkeypatch):
    mod = _fresh_module(tmp_path, EXAMPLES / "causal.attn", "causal_fit")
    monkeypatch.setattr(mod, "_device_of", lambda q: ("NVIDIA RTX A6000", SM86))
    launches = []
    monkeypatch.setattr(mod, "_launch", lambda *args: launches.append(args))
    with pytest.raises(ValueError) as info:
        _call(mod, D=256, kernel_options={"block_m": 128, "block_n": 128, "stages": 4})
    assert str(info.value).startswith("causal: kernel_options for the forward kernel, block_m=128 block_n=128 "
                                      "warps=4 stages=4, needs about ")
    assert "sm86 allows 101,376 per block; choose smaller tiles or fewer stages" in str(info.value)
    assert launches == []
    with pytest.raises(ValueError, match="causal: kernel_options: unknown tile 'chunk'"):
        _call(mod, kernel_options={"chunk": 64})


@pytest.mark.parametrize("example, options", [
    ("sliding_window.attn", [{"block_m": 16, "block_n": 64}, {"block_m": 64, "block_n": 16},
                             {"forward": {"block_m": 128}, "backward": {"block_n": 128, "block_m": 16}}]),
    ("document_causal.attn", [{"block_m": 16, "block_n": 32}, {"block_m": 64, "block_n": 64}]),
    ("streaming_sink.attn", [{"block_m": 16, "block_n": 64}, {"block_m": 128, "block_n": 16}]),  # two key ranges
    ("natten2d.attn", [{"block_m": 16, "block_n": 128}, {"block_m": 64, "block_n": 16}]),  # 2-D windows
    ("softmax_sink.attn", [{"block_m": 16, "block_n": 64}]),  # a learnable sink
    ("retnet.attn", [{"chunk": 16}, {"chunk": 64}, {"forward": {"chunk": 128}, "backward": {"chunk": 16}}]),
    ("linear_elu.attn", [{"chunk": 16}, {"chunk": 128}]),
])
def test_every_config_computes_the_same_attention(example, options):
    """Tile sizes are schedule, not algorithm: any config gives the reference's values."""
    path = EXAMPLES / example
    spec = front_end(path.read_text(), str(path))
    mod = attncc.load(path, backend="triton")
    ref = attncc.load(path, backend="torch")
    from attncc.checks.samples import sample_inputs, sample_params

    params = sample_params(spec, {"window": 24} if spec.param("window") else {})
    sizes = {"B": 1, "H": 2, "HKV": 2, "N": 70, "M": 70, "D": 16, "DV": 16}
    inputs = sample_inputs(spec, sizes, params, float_dtype=torch.float64)

    def outputs(module, **options):
        learnable = {x.name: inputs[x.name].clone().requires_grad_() for x in spec.learnable_inputs}
        values = _call(module, N=70, **params, **{**inputs, **learnable}, **options)
        return [*values, *(t.grad for t in learnable.values())]

    expected = outputs(ref)
    assert len(expected) == 4 + len(spec.learnable_inputs)
    for chosen in options:
        for a, b in zip(outputs(mod, kernel_options=chosen), expected, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_lengths_sizes_and_input_sizes_are_never_specialized(tmp_path):
    """A new sequence length must not recompile: every kernel leaves the sizes (and the inputs'
    sizes) unspecialized. Checked on the compiled (not interpreted) kernels, in a subprocess."""
    code = compile_source((EXAMPLES / "document_causal.attn").read_text(), "document_causal.attn", "triton").code
    (tmp_path / "doc_mod.py").write_text(code)
    probe = (
        "import os; os.environ['TRITON_INTERPRET'] = '0'\n"
        "import doc_mod, triton\n"
        "kernels = [v for v in vars(doc_mod).values() if type(v).__name__ == 'JITFunction' and 'N' in v.arg_names]\n"
        "assert len(kernels) == 4, kernels\n"
        "for kernel in kernels:\n"
        "    loose = {p.name for p in kernel.params if p.do_not_specialize}\n"
        "    sizes = {'B', 'H', 'HKV', 'N', 'M'} | {n for n in kernel.arg_names if n.startswith('X_doc_d')}\n"
        "    assert sizes <= loose, (kernel.fn.__name__, sizes - loose)\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "ok", result.stderr[-2000:]


def test_a_module_warns_nothing_without_a_cache(tmp_path, cache):
    mod = _fresh_module(tmp_path, EXAMPLES / "causal.attn", "causal_quiet")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _call(mod, backward=False)


# ---------------------------------------------------------------- against what Triton compiles
# bench/calibration/resources.json: 518 configs compiled for sm_80, sm_90, sm_100 and sm_120 by
# tests/support/calibrate_resources.py (Triton's shared memory, ptxas's registers and spills).

def test_the_shared_memory_estimate_is_never_under_what_triton_compiled():
    records = estimated_records()
    assert len(records) > 500 and {r["arch"] for r, _, _ in records} == {80, 90, 100, 120}
    under = [(r["kernel"], r["arch"], r["dtype"], r["D"], r["block_m"], r["block_n"], r["chunk"], r["shared"], est)
             for r, est, _ in records if est < r["shared"]]
    assert under == []
    # and not wildly over where it matters: past 32 KiB, at most 4x (the median is about 1.1x)
    big = [est / r["shared"] for r, est, _ in records if r["shared"] >= 32768]
    assert max(big) <= 4.0 and sorted(big)[len(big) // 2] <= 1.35


def test_the_register_rule_prunes_only_configs_that_spill():
    measured = [(r, live) for r, _, live in estimated_records() if r.get("registers") is not None]
    pruned = [r for r, live in measured if live > schedule.MAX_REGISTERS]
    assert len(pruned) > 50
    assert all(r["spill_stores"] > 0 for r in pruned)


def test_triton_running_out_of_resources_is_named_not_raw(tmp_path, cache, monkeypatch):
    from triton.runtime.errors import OutOfResources

    mod = _fresh_module(tmp_path, EXAMPLES / "causal.attn", "causal_out_of_resources")

    def launch(kernel, grid, args, constants):
        raise OutOfResources(300000, 232448, "shared memory")

    monkeypatch.setattr(mod, "_launch", launch)
    with pytest.raises(ValueError) as info:
        _call(mod, backward=False)
    assert str(info.value).startswith("causal: the forward kernel with block_m=32 block_n=32 warps=4 stages=2: "
                                      "out of resource: shared memory, Required: 300000")
    assert str(info.value).endswith("pass smaller kernel_options, or run attncc tune, which skips configs that fail")
