"""`attncc bench` (attncc/bench/: measure.py, command.py, report.py), its comparators (comparators.py) and the GPU sweep
script: FLOP counting, the JSON schema, SDPA and FlexAttention against the dense reference,
and the harness end to end under Triton's CPU interpreter (--allow-cpu) on tiny shapes."""

import argparse
import importlib.util
import json
import math
import sys
import warnings

import pytest
import torch

import attncc
from attncc.bench import measure as bench
from attncc.bench import command as bench_command
from attncc.bench import report as bench_report
from attncc.bench import comparators
from attncc.bench.measure import BenchUsageError
from attncc.bench.report import Shape
from attncc.driver.pipeline import front_end
from attncc.checks.samples import sample_inputs, sample_params
from conftest import ROOT

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def example(name):
    path = ROOT / "examples" / f"{name}.attn"
    return str(path), front_end(path.read_text(), str(path))


def spec_file(tmp_path, name, text):
    path = tmp_path / f"{name}.attn"
    path.write_text(text)
    return str(path), front_end(text, str(path))


def parser():
    p = argparse.ArgumentParser(prog="attncc bench")
    bench_command.add_bench_arguments(p)
    return p


def run(argv):
    return bench_command.run_bench(parser().parse_args(argv))


# ---------------------------------------------------------------- FLOPs and figures

def test_forward_flops_follow_the_convention():
    shape = Shape(B=2, H=8, N=1024, D=64, M=1024, HKV=8, DV=64)
    assert bench_report.forward_flops(shape) == 4 * 2 * 8 * 1024 * 1024 * 64 == 4294967296
    assert bench_report.forward_flops(shape, causal=True) == 2147483648
    assert bench_report.pass_flops(shape, "fwd") == 4294967296
    assert bench_report.pass_flops(shape, "fwd+bwd") == 4294967296 * 3.5 == 15032385536
    assert bench_report.pass_flops(shape, "fwd+bwd", causal=True) == 7516192768


def test_flops_count_q_k_and_p_v_separately_when_d_differs_from_dv():
    shape = Shape(B=1, H=2, N=10, D=16, M=12, HKV=1, DV=8)
    assert bench_report.forward_flops(shape) == 2 * 1 * 2 * 10 * 12 * (16 + 8) == 11520
    assert bench_report.pass_flops(shape, "fwd+bwd", causal=True) == 11520 / 2 * 3.5 == 20160
    with pytest.raises(ValueError, match="pass"):
        bench_report.pass_flops(shape, "bwd")


def test_tflops_and_percent_of_peak():
    assert bench_report.tflops_of(3e12, 1000.0) == 3.0
    assert bench_report.tflops_of(1e12, None) is None
    assert bench_report.peak_tflops("NVIDIA H200", "bfloat16")[0] == 790.0
    assert bench_report.peak_tflops("NVIDIA A100-SXM4-80GB", "float16")[0] == 312.0
    peak, why = bench_report.peak_tflops("cpu (x86_64), Triton interpreter", "float32")
    assert peak is None and "--peak" in why
    assert bench_report.peak_tflops("Some GPU", "bfloat16", override=500) == (500.0, "given with --peak")
    assert bench_report.pct_of_peak(395.0, 790.0) == 50.0
    assert bench_report.pct_of_peak(395.0, None) is None


# ---------------------------------------------------------------- options

def test_shape_parsing_fills_defaults_and_names_the_option():
    assert bench.parse_shape("2,8,128,64") == (Shape(2, 8, 128, 64, 128, 8, 64), False)
    assert bench.parse_shape("1, 4, 17, 16, 33, 2, 24") == (Shape(1, 4, 17, 16, 33, 2, 24), True)
    for bad, words in (("1,2,3", "B,H,N,D"), ("a,b,c,d", "B,H,N,D"), ("1,3,8,8,8,2", "multiple of HKV"),
                       ("0,1,1,1", "at least 1"), ("1,2,3,4,5,6,7,8", "B,H,N,D")):
        with pytest.raises(BenchUsageError, match="--shape") as info:
            bench.parse_shape(bad)
        assert words in str(info.value)


def test_lengths_and_tokens_make_one_shape_per_length():
    base, m_given = bench.parse_shape("1,16,1024,128")
    shapes = bench.bench_shapes(base, m_given, bench.parse_lengths("1024,4096,16384"), tokens=16384)
    assert [(s.B, s.N, s.M) for s in shapes] == [(16, 1024, 1024), (4, 4096, 4096), (1, 16384, 16384)]
    assert bench.bench_shapes(base, m_given, None, None) == [base]
    cross, given = bench.parse_shape("1,2,16,16,32")
    with pytest.raises(BenchUsageError, match="--lengths"):
        bench.bench_shapes(cross, given, (16, 32), None)
    with pytest.raises(BenchUsageError, match="--lengths"):
        bench.parse_lengths("1024,x")


def test_vs_takes_sdpa_flex_both_or_none():
    assert bench.parse_vs("flex,sdpa") == ("sdpa", "flex")
    assert bench.parse_vs("sdpa") == ("sdpa",)
    assert bench.parse_vs("none") == ()
    with pytest.raises(BenchUsageError, match="--vs"):
        bench.parse_vs("sdpa,fa3")


# ---------------------------------------------------------------- the JSON schema

def valid_doc():
    shape = Shape(1, 2, 16, 16, 16, 2, 16)
    rows = []
    for impl, which, ms in (("attncc", "fwd", 2.0), ("attncc", "fwd+bwd", 5.0), ("sdpa", "fwd", None)):
        flops = bench_report.pass_flops(shape, which, True)
        tflops = bench_report.tflops_of(flops, ms)
        rows.append({**shape.as_json(), "impl": impl, "pass": which, "flops": flops, "ms": ms, "tflops": tflops,
                     "pct_peak": bench_report.pct_of_peak(tflops, 790.0), "note": "" if ms else "n/a: a reason"})
    return {
        "schema": "attncc-bench/1", "device": "NVIDIA H200", "interpreter": False, "peak_tflops": 790.0,
        "peak_source": "TESTING.md", "versions": {"attncc": "0.1.0", "torch": "2.11", "triton": "3.6",
                                                  "python": "3.11", "cuda": "12.8"},
        "date": "2026-01-02T03:04:05+00:00", "spec": {"name": "causal", "path": "causal.attn", "hash": "ab"},
        "dtype": "bfloat16", "causal_flops": True, "vs": ["sdpa"], "params": {}, "inputs": {}, "timing": "do_bench",
        "env": {"ATTNCC_AUTOTUNE": None, "TRITON_INTERPRET": None}, "shapes": [shape.as_json()], "rows": rows,
        "flex_block_mask_ms": [{"B": 1, "H": 2, "N": 16, "M": 16, "ms": 0.5, "note": "create_block_mask"}],
        "tiles": [{"key": "k", "config": {"block_m": 32, "block_n": 32, "warps": 4, "stages": 2}, "source": "default"}],
    }


def test_schema_accepts_a_valid_document_and_its_json_round_trip():
    doc = valid_doc()
    bench_report.validate_result(doc)
    bench_report.validate_result(json.loads(json.dumps(doc)))
    assert bench_report.result_problems(doc) == []


@pytest.mark.parametrize("change, words", [
    (lambda d: d.pop("device"), "missing ['device']"),
    (lambda d: d.update(extra=1), "unknown ['extra']"),
    (lambda d: d.update(schema="attncc-bench/0"), "schema is"),
    (lambda d: d.update(date="yesterday"), "ISO 8601"),
    (lambda d: d.update(dtype="int8"), "dtype"),
    (lambda d: d["versions"].pop("triton"), "versions"),
    (lambda d: d["rows"][0].update(impl="xformers"), "rows[0].impl"),
    (lambda d: d["rows"][0].update(ms=-1.0), "rows[0].ms"),
    (lambda d: d["rows"][1].update(tflops=123.0), "rows[1].tflops"),
    (lambda d: d["rows"][1].update(flops=1.0), "rows[1].flops"),
    (lambda d: d["rows"][2].update(note=""), "needs a note"),
    (lambda d: d["rows"][2].pop("note"), "rows[2]: keys differ"),
    (lambda d: d["shapes"][0].update(N=0), "shapes[0]"),
    (lambda d: d["flex_block_mask_ms"][0].update(ms=None, note=""), "flex_block_mask_ms[0]"),
    (lambda d: d["tiles"][0].pop("source"), "tiles[0]"),
    (lambda d: d.update(interpreter="no"), "interpreter has the wrong type"),
])
def test_schema_rejects_broken_documents(change, words):
    doc = valid_doc()
    change(doc)
    with pytest.raises(ValueError, match="not an attncc-bench/1 document") as info:
        bench_report.validate_result(doc)
    assert words in str(info.value)


# ---------------------------------------------------------------- what the comparators can express

@pytest.mark.parametrize("name, sdpa_mode, flex_ok, words", [
    ("dense", "plain", True, ""),
    ("causal", "causal", True, ""),
    ("sliding_window", "bool_mask", True, ""),
    ("document_causal", "bool_mask", True, ""),
    ("alibi", "float_mask", True, ""),
    ("key_bias", "float_mask", True, ""),
    ("softcap", None, True, "is not c * s + bias"),
    ("temperature", None, True, "is not c * s + bias"),
    ("softmax_sink", None, False, "sink"),
    ("softplus_l1", None, False, "norm = sum"),
    ("relu2", None, False, "norm = none"),
    ("retnet", None, False, "linear attention"),
])
def test_plans_say_what_sdpa_and_flex_can_compute(name, sdpa_mode, flex_ok, words):
    _, spec = example(name)
    sdpa, flex = comparators.sdpa_plan(spec), comparators.flex_plan(spec)
    assert sdpa.supported == (sdpa_mode is not None) and sdpa.mode == (sdpa_mode or "")
    assert flex.supported == flex_ok
    if sdpa_mode is None:
        assert words in sdpa.why and sdpa.describe().startswith("n/a: ")
    if not flex_ok:
        assert words in flex.why


def test_plans_for_specs_outside_the_examples(tmp_path):
    _, scaled = spec_file(tmp_path, "scaled", "attention scaled\ninput g[H]\nscore = 2 * s + g[h] * j\n")
    plan = comparators.sdpa_plan(scaled)
    assert (plan.mode, plan.slope) == ("float_mask", 2.0)
    _, shifted = spec_file(tmp_path, "shifted", "attention shifted\nparam c: float = 3.0\nmask = j <= i\n"
                                                 "score = s + c\n")
    assert comparators.sdpa_plan(shifted).mode == "causal"  # a bias the same for every pair cancels
    assert comparators.flex_plan(shifted).score


def numerics_case(path, spec, params=None, B=2, H=4, HKV=2, N=24, M=24, D=16, DV=8, seed=0):
    """(reference module, sizes, params, inputs, q, k, v, reference output), float64."""
    ref = attncc.load(path, backend="torch")
    sizes = {"B": B, "H": H, "HKV": HKV, "N": N, "M": M, "D": D, "DV": DV}
    params = sample_params(spec, params or {})
    inputs = sample_inputs(spec, sizes, params, seed=seed, float_dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, N, D, generator=g, dtype=torch.float64)
    k = torch.randn(B, HKV, M, D, generator=g, dtype=torch.float64)
    v = torch.randn(B, HKV, M, DV, generator=g, dtype=torch.float64)
    return ref, sizes, params, inputs, q, k, v, ref.attention(q, k, v, **params, **inputs)


SDPA_CASES = [
    ("dense", {}, {"N": 20, "M": 28}),
    ("causal", {}, {"N": 20, "M": 28}),
    ("sliding_window", {"window": 5}, {}),
    ("alibi", {}, {}),
    ("document_causal", {}, {}),
    ("rpb1d", {"radius": 4}, {}),
    ("key_bias", {}, {}),
]


@pytest.mark.parametrize("name, params, sizes", SDPA_CASES, ids=[c[0] for c in SDPA_CASES])
def test_sdpa_computes_what_the_reference_computes(name, params, sizes):
    path, spec = example(name)
    ref, sz, params, inputs, q, k, v, expected = numerics_case(path, spec, params, **sizes)
    out = comparators.make_sdpa(comparators.sdpa_plan(spec), ref, sz, params, inputs, torch.float64, "cpu")(q, k, v)
    assert out.shape == expected.shape
    assert torch.allclose(out, expected, rtol=0, atol=1e-12), (out - expected).abs().max()


def test_sdpa_masks_keep_batch_and_head_dims_only_where_the_spec_reads_them():
    for name, params, expected in (("sliding_window", {"window": 5}, (1, 1)), ("alibi", {}, (1, 4)),
                                   ("document_causal", {}, (2, 1)), ("duo_heads", {}, (1, 4))):
        path, spec = example(name)
        ref, sz, params, inputs, *_ = numerics_case(path, spec, params)
        plan = comparators.sdpa_plan(spec)
        mask = comparators.sdpa_attn_mask(plan, ref, sz, params, inputs, torch.float16, "cpu")
        assert mask.shape == (*expected, 24, 24) and mask.is_contiguous()
        assert mask.dtype == (torch.float16 if plan.mode == "float_mask" else torch.bool)


def test_sdpa_takes_the_score_slope_and_bias_of_a_new_spec(tmp_path):
    path, spec = spec_file(tmp_path, "scaled", "attention scaled\ninput g[H]\nmask = i - j < 7\n"
                                                "score = 2 * s + g[h] * j\n")
    ref, sz, params, inputs, q, k, v, expected = numerics_case(path, spec, N=17, M=23)
    out = comparators.make_sdpa(comparators.sdpa_plan(spec), ref, sz, params, inputs, torch.float64, "cpu")(q, k, v)
    assert torch.allclose(out, expected, rtol=0, atol=1e-12)


FLEX_CASES = [
    ("causal", {}, {"N": 20, "M": 28}),
    ("alibi", {}, {}),
    ("softcap", {"cap": 2.0}, {}),
    ("sliding_window", {"window": 5}, {}),
    ("document_causal", {}, {}),
    ("rpb1d", {"radius": 4}, {}),
    ("natten2d", {"width": 6, "radius": 1}, {"N": 36, "M": 36}),
    ("temperature", {}, {}),
]


@pytest.mark.parametrize("name, params, sizes", FLEX_CASES, ids=[c[0] for c in FLEX_CASES])
def test_flex_computes_what_the_reference_computes(name, params, sizes):
    path, spec = example(name)
    ref, sz, params, inputs, q, k, v, expected = numerics_case(path, spec, params, **sizes)
    plan = comparators.flex_plan(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # eager flex_attention: "use torch.compile"
        run = comparators.make_flex(plan, spec, ref, sz, params, inputs, torch.float64, "cpu", compiled=False)
        out = run.fn(q, k, v)
    assert (run.block_mask_ms is not None) == plan.mask
    assert torch.allclose(out, expected, rtol=0, atol=1e-12), (out - expected).abs().max()


def test_flex_block_mask_broadcasts_over_what_the_mask_does_not_read():
    sizes = {"B": 3, "H": 4}
    assert comparators.flex_mask_dims(example("causal")[1], sizes) == (None, None)
    assert comparators.flex_mask_dims(example("document_causal")[1], sizes) == (3, None)
    assert comparators.flex_mask_dims(example("per_head_window")[1], sizes) == (None, 4)


def test_comparators_refuse_what_they_cannot_compute():
    path, spec = example("softmax_sink")
    plan = comparators.sdpa_plan(spec)
    with pytest.raises(ValueError, match="sink"):
        comparators.make_sdpa(plan, None, {}, {}, {}, torch.float32, "cpu")


# ---------------------------------------------------------------- the harness end to end (CPU interpreter)

def test_bench_runs_end_to_end_under_the_interpreter(tmp_path, capsys):
    path, spec = example("alibi")
    status = run([path, "--shape", "1,2,16,16", "--lengths", "16,32", "--reps", "1", "--allow-cpu",
                  "--causal-flops", "--vs", "sdpa,flex", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert status == 0
    assert printed.count("CPU INTERPRETER: these numbers are NOT kernel performance") == 2
    json_path = tmp_path / "alibi_float32_D16_cpu-interpreter.json"
    doc = json.loads(json_path.read_text())
    bench_report.validate_result(doc)
    assert doc["interpreter"] is True and doc["causal_flops"] is True and doc["dtype"] == "float32"
    assert doc["versions"]["torch"] == torch.__version__ and doc["spec"]["hash"] == spec.source_hash
    assert doc["peak_tflops"] is None and doc["vs"] == ["sdpa", "flex"]
    assert [(s["N"], s["M"]) for s in doc["shapes"]] == [(16, 16), (32, 32)]
    rows = {(r["N"], r["impl"], r["pass"]): r for r in doc["rows"]}
    assert len(doc["rows"]) == len(rows) == 12
    for n in (16, 32):
        shape = Shape(1, 2, n, 16, n, 2, 16)
        for impl, which in (("attncc", "fwd"), ("attncc", "fwd+bwd"), ("sdpa", "fwd"), ("sdpa", "fwd+bwd"),
                            ("flex", "fwd")):
            row = rows[(n, impl, which)]
            assert row["ms"] > 0 and row["flops"] == bench_report.pass_flops(shape, which, causal=True)
            assert math.isclose(row["tflops"], row["flops"] / (row["ms"] * 1e-3) / 1e12)
            assert row["pct_peak"] is None
        assert "float attn_mask" in rows[(n, "sdpa", "fwd")]["note"]
        flex_bwd = rows[(n, "flex", "fwd+bwd")]
        assert flex_bwd["ms"] is None and "no backward on CPU" in flex_bwd["note"]
    assert [(e["N"], e["ms"] > 0) for e in doc["flex_block_mask_ms"]] == [(16, True), (32, True)]
    # both lengths share the 64 bucket: one forward and one backward config, the interpreter's default
    assert sorted((t["key"].split("|")[1], t["source"]) for t in doc["tiles"]) == [("backward", "default"),
                                                                                  ("forward", "default")]
    assert "% peak" in printed and "  [1] " in printed and f"wrote {json_path}" in printed
    png = tmp_path / "alibi_float32_D16_cpu-interpreter.png"
    if bench_report.import_figure() is None:
        assert "plot skipped" in printed and not png.exists()
    else:
        assert png.read_bytes()[:8] == PNG_MAGIC


def test_bench_without_matplotlib_writes_the_json_and_says_how_to_get_the_plot(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib...` now raises ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    path, _ = example("sliding_window")
    status = run([path, "--shape", "1,2,16,16", "--param", "window=4", "--reps", "1", "--allow-cpu", "--vs", "none",
                  "--out", str(tmp_path), "--name", "sw"])
    printed = capsys.readouterr().out
    assert status == 0
    doc = json.loads((tmp_path / "sw.json").read_text())
    bench_report.validate_result(doc)
    assert doc["params"] == {"window": 4} and doc["vs"] == [] and doc["flex_block_mask_ms"] == []
    assert [(r["impl"], r["pass"]) for r in doc["rows"]] == [("attncc", "fwd"), ("attncc", "fwd+bwd")]
    assert "plot skipped: matplotlib is not installed" in printed and "pip install 'attncc[bench]'" in printed
    assert not (tmp_path / "sw.png").exists()


def test_plot_shows_tflops_against_n(tmp_path):
    if bench_report.import_figure() is None:
        pytest.skip("the plot needs matplotlib (pip install 'attncc[bench]')")
    doc = valid_doc()
    assert bench_report.write_plot(doc, tmp_path / "p.png") is None
    assert (tmp_path / "p.png").read_bytes()[:8] == PNG_MAGIC
    doc["rows"] = [r for r in doc["rows"] if r["ms"] is None]
    assert bench_report.write_plot(doc, tmp_path / "q.png") == "plot skipped: no row has a time"


def test_linear_specs_get_comparator_rows_with_the_reason(tmp_path, capsys):
    path, _ = example("retnet")
    assert run([path, "--shape", "1,2,16,16", "--reps", "1", "--allow-cpu", "--out", str(tmp_path)]) == 0
    doc = json.loads(next(tmp_path.glob("*.json")).read_text())
    bench_report.validate_result(doc)
    for row in doc["rows"]:
        if row["impl"] == "attncc":
            assert row["ms"] > 0 and "softmax convention" in row["note"]
        else:
            assert row["ms"] is None and row["note"].startswith("n/a: linear attention")
    assert "sdpa: n/a: linear attention" in capsys.readouterr().out


def test_learnable_inputs_get_gradients_in_attncc_only(tmp_path):
    path, _ = example("key_bias")
    assert run([path, "--shape", "1,2,16,16", "--reps", "1", "--allow-cpu", "--vs", "sdpa", "--out", str(tmp_path),
                "--name", "kb"]) == 0
    rows = {(r["impl"], r["pass"]): r for r in json.loads((tmp_path / "kb.json").read_text())["rows"]}
    assert "learnable inputs (bias)" in rows[("attncc", "fwd+bwd")]["note"]
    assert rows[("sdpa", "fwd+bwd")]["ms"] > 0 and "held fixed" in rows[("sdpa", "fwd+bwd")]["note"]


def test_a_failing_pass_is_recorded_and_sets_the_status(tmp_path, capsys):
    path, _ = example("retnet")  # causal linear attention needs N == M: the module refuses N != M
    assert run([path, "--shape", "1,2,16,16,24", "--reps", "1", "--allow-cpu", "--vs", "none",
                "--out", str(tmp_path), "--name", "x"]) == 1
    doc = json.loads((tmp_path / "x.json").read_text())
    bench_report.validate_result(doc)
    assert all(r["ms"] is None and r["note"].startswith("failed: ValueError") for r in doc["rows"])
    assert "attncc measurement(s) failed" in capsys.readouterr().err


def test_usage_errors_name_the_option(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    path, _ = example("sliding_window")
    with pytest.raises(BenchUsageError, match="--allow-cpu"):
        run([path, "--shape", "1,2,16,16", "--out", str(tmp_path)])
    for name in ("bfloat16", "bf16"):
        with pytest.raises(BenchUsageError, match="--dtype bfloat16 cannot run under Triton's CPU interpreter"):
            run([path, "--shape", "1,2,16,16", "--dtype", name, "--allow-cpu", "--out", str(tmp_path)])
    with pytest.raises(BenchUsageError, match="--param windw=4: the spec 'sliding_window' has no param 'windw'"):
        run([path, "--param", "windw=4", "--allow-cpu", "--out", str(tmp_path)])
    with pytest.raises(BenchUsageError, match="no such spec file"):
        run([str(tmp_path / "missing.attn"), "--allow-cpu", "--out", str(tmp_path)])
    with pytest.raises(BenchUsageError, match="--peak"):
        run([path, "--peak", "0", "--allow-cpu", "--out", str(tmp_path)])
    with pytest.raises(BenchUsageError, match="--reps"):
        run([path, "--reps", "0", "--allow-cpu", "--out", str(tmp_path)])
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- the GPU sweep script

def sweep_module():
    spec = importlib.util.spec_from_file_location("bench_sweep", ROOT / "scripts" / "bench_sweep.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sweep_covers_the_issue_grid():
    sweep = sweep_module()
    runs = sweep.sweep_runs(list(sweep.SPECS), sweep.DIMS, sweep.LENGTHS, sweep.TOKENS, None, "bfloat16",
                            "sdpa,flex", "bench/results", False, "nvidia-h200")
    assert [(name, d) for name, d, _ in runs] == [
        (name, d) for name in ("causal", "dense", "sliding_window", "alibi", "softcap", "document_causal")
        for d in (64, 128)]
    for name, d, argv in runs:
        args = parser().parse_args(argv)
        assert args.lengths == "1024,4096,16384" and args.tokens == 16384 and args.dtype == "bfloat16"
        assert args.vs == "sdpa,flex" and args.out == "bench/results" and not args.allow_cpu
        assert bench.parse_shape(args.shape)[0].D == d and bench.parse_shape(args.shape)[0].H == 2048 // d
        assert args.name == f"{name}_bfloat16_D{d}_nvidia-h200"
        assert args.causal_flops == (name != "dense")
        assert (args.param == ["window=1024"]) == (name == "sliding_window")


def test_sweep_runs_on_cpu_and_summarizes(tmp_path, capsys):
    sweep = sweep_module()
    status = sweep.main(["--allow-cpu", "--specs", "causal", "--dims", "16", "--heads", "2", "--lengths", "16",
                         "--tokens", "16", "--vs", "sdpa", "--out", str(tmp_path)])
    assert status == 0
    summary = json.loads((tmp_path / "sweep_cpu-interpreter.json").read_text())
    assert summary["schema"] == "attncc-bench-sweep/1"
    assert summary["runs"] == [{"spec": "causal", "D": 16, "json": "causal_float32_D16_cpu-interpreter.json",
                                "png": "causal_float32_D16_cpu-interpreter.png", "problems": []}]
    bench_report.validate_result(json.loads((tmp_path / "causal_float32_D16_cpu-interpreter.json").read_text()))


def test_dtype_names_and_their_short_forms(capsys):
    parser = argparse.ArgumentParser()
    bench_command.add_bench_arguments(parser)
    for text, name in (("bf16", "bfloat16"), ("FP16", "float16"), ("half", "float16"), ("float32", "float32")):
        assert parser.parse_args(["x.attn", "--dtype", text]).dtype == name
    with pytest.raises(SystemExit):
        parser.parse_args(["x.attn", "--dtype", "int8"])
    assert "--dtype takes bf16, fp16 or fp32 (or bfloat16, float16, float32); got 'int8'" in capsys.readouterr().err
