"""The generated gradient checks: `attncc check`, `attncc compile --tests` and their test files.

- `attncc check` passes on every example (under Triton's interpreter here).
- Mutation tests: a deliberately wrong kernel (the score's derivative with a sign slip, a key
  range one short, the sink's gradient dropped, a learnable gradient scattered to the mirrored
  slot, linear attention's state gradient not decayed) makes the generated checks fail, on the
  tensors the bug touches. A check that cannot
  fail is worse than none.
- The generated file is plain pytest, run in a subprocess next to its module.
- The values the checks generate, and the user's overrides (file and options).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings

from attncc.checks.generate import choose_inputs, choose_params, cross_allowed, render_tests
from attncc.checks.values import CheckValues, CheckValuesError, resolve, values_from_cli
from attncc.commands import cli
from attncc.driver.loader import import_file
from attncc.driver.pipeline import compile_source, front_end
from conftest import EXAMPLES, ROOT
from test_triton_random_specs import specs as random_specs


def _example(name):
    return next(p for p in EXAMPLES if p.stem == name)


def _write_pair(folder, source, backend="triton", mutate=None, values=None, name="mod"):
    """Compile `source` into folder/name.py (through `mutate` when given) with its checks in
    folder/test_name.py; the checks' module, imported."""
    result = compile_source(source, "<spec>", backend)
    code = mutate(result.code) if mutate else result.code
    (folder / f"{name}.py").write_text(code)
    test_file = folder / f"test_{name}.py"
    test_file.write_text(render_tests(result.spec, f"{name}.py", test_file.name, result.backend, values))
    return import_file(test_file, f"_checks_{folder.name}_{name}")


def _failed_tensors(checks_module):
    """(check label, tensor) of every failed row over all of the module's checks."""
    failed = set()
    for label, run in checks_module.checks():
        failed |= {(label, row.tensor) for row in run() if not row.ok}
    return failed


# ---------------------------------------------------------------- attncc check on the gallery

@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_check_passes_on_every_example(path, capsys):
    assert cli.main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"PASS {front_end(path.read_text(), str(path)).name}:" in out
    assert "FAIL" not in out
    for column in ("tensor", "error", "ref error", "ratio", "result", "time"):
        assert column in out
    assert "gradcheck" in out and " dq " in out and " dv " in out


def test_check_over_several_specs_shows_progress_and_a_summary(capsys):
    paths = [str(_example("causal")), str(_example("alibi"))]
    assert cli.main(["check", *paths]) == 0
    out = capsys.readouterr().out
    assert f"[1/2] {paths[0]}" in out and f"[2/2] {paths[1]}" in out
    assert "summary: 2 specs in" in out and "2 passed, 0 failed" in out


# ---------------------------------------------------------------- mutations must be caught

SOFTCAP_DERIVATIVE = ("(1.0 - ((score * score) * inv5))", "(1.0 + ((score * score) * inv5))")
WINDOW_STOP = ("tl.minimum((i_hi + 1), M)", "tl.minimum(i_hi, M)")
SINK_GRADIENT = ("dsink = tl.where(row_ok, -_exp_base((sink - stat) - logsum, BASE2) * delta, 0.0)",
                 "dsink = tl.where(row_ok, 0.0 * delta, 0.0)")
STATE_DECAY = ("grad_state = grad_state * tl.exp(log_g * length.to(FP)) + ", "grad_state = grad_state + ")
RPB_SLOT = ("(((P_radius + j) - i)).to(IDX)) * G_rpb_s1", "(((P_radius + i) - j)).to(IDX)) * G_rpb_s1")


def _in_kernel(kernel, old, new):
    """A mutation of `old` to `new` inside one kernel's source only."""
    def mutate(code):
        start = code.index(f"def {kernel}(")
        end = code.index("\n@triton.jit", start) if "\n@triton.jit" in code[start:] else len(code)
        body = code[start:end]
        assert old in body, f"the mutation's anchor {old!r} is not in {kernel}: the generated code changed"
        return code[:start] + body.replace(old, new) + code[end:]
    return mutate


def _everywhere(old, new):
    def mutate(code):
        assert old in code, f"the mutation's anchor {old!r} is gone: the generated code changed"
        return code.replace(old, new)
    return mutate


MUTATIONS = {
    # d score/ds of cap * tanh(s / cap) is 1 - (score/cap)^2; the sign slipped.
    "softcap_derivative_sign": ("softcap", _everywhere(*SOFTCAP_DERIVATIVE), {"dq", "dk"}),
    # The forward's key range ends one key early (an exclusive bound taken as inclusive); the
    # backward works from the forward's lse, so every gradient is off too.
    "window_range_off_by_one": ("sliding_window", _in_kernel("_fwd_kernel", *WINDOW_STOP),
                                {"o", "lse", "dq", "dk", "dv"}),
    # The backward forgets the sink's term: no gradient reaches the sink logits.
    "sink_gradient_missing": ("softmax_sink", _in_kernel("_bwd_preprocess_kernel", *SINK_GRADIENT), {"dsinks"}),
    # The learnable bias's gradient lands in the slot of j - i mirrored.
    "rpb_gradient_mirrored": ("rpb1d", _in_kernel("_bwd_q_kernel", *RPB_SLOT), {"drpb"}),
    # Linear attention: the reverse pass forgets to decay the state's gradient between chunks.
    "retnet_state_gradient_undecayed": ("retnet", _in_kernel("_lin_bwd_kernel", *STATE_DECAY), {"dk", "dv"}),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_wrong_kernels_fail_the_generated_checks(name, tmp_path):
    example, mutate, touched = MUTATIONS[name]
    checks = _write_pair(tmp_path, _example(example).read_text(), mutate=mutate)
    failed = _failed_tensors(checks)
    assert failed, f"the checks of {example} passed a kernel with the mutation {name}"
    tensors = {tensor for _, tensor in failed}
    # Only what the bug touches fails (the float64 gradcheck of the module may fail with it).
    assert tensors & touched and tensors <= touched | {"module"}, failed


def test_check_exits_non_zero_on_a_wrong_kernel(monkeypatch, capsys):
    import attncc.checks.run as check_run

    real = check_run.compile_source

    def wrong(source, filename, backend):
        result = real(source, filename, backend)
        if result.spec.name != "softcap":
            return result
        return dataclasses.replace(result, code=_everywhere(*SOFTCAP_DERIVATIVE)(result.code))

    monkeypatch.setattr(check_run, "compile_source", wrong)
    paths = [str(_example("softcap")), str(_example("causal"))]
    assert cli.main(["check", *paths]) == 1
    out = capsys.readouterr().out
    assert "FAIL softcap:" in out and "PASS causal:" in out
    assert "1 passed, 1 failed" in out and f"FAIL {paths[0]}: " in out


# ---------------------------------------------------------------- the file is plain pytest

def _pytest(test_file, cwd, *options):
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}  # the module sets it itself
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options, str(test_file)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_compile_tests_writes_a_plain_pytest_file(tmp_path):
    spec = _example("softmax_sink")
    module = tmp_path / "build" / "sink.py"
    assert cli.main(["compile", str(spec), "-o", str(module), "--tests", "test_sink.py"]) == 0
    test_file = tmp_path / "build" / "test_sink.py"  # a bare name: next to the module
    text = test_file.read_text()
    assert "import attncc" not in text and "from attncc" not in text
    run = _pytest(test_file, tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "passed" in run.stdout

    # The same file fails under pytest once the module's sink gradient is dropped.
    module.write_text(_in_kernel("_bwd_preprocess_kernel", *SINK_GRADIENT)(module.read_text()))
    run = _pytest(test_file, tmp_path, "-x")
    assert run.returncode == 1 and "dsinks: error" in run.stdout, run.stdout + run.stderr


def test_tests_in_another_folder_find_the_module(tmp_path):
    assert cli.main(["compile", str(_example("causal")), "-o", str(tmp_path / "out" / "causal.py"),
                     "--tests", str(tmp_path / "checks" / "test_causal.py")]) == 0
    text = (tmp_path / "checks" / "test_causal.py").read_text()
    assert "'../out/causal.py'" in text
    run = _pytest(tmp_path / "checks" / "test_causal.py", tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr


def test_checks_refuse_a_module_from_another_spec(tmp_path):
    _write_pair(tmp_path, _example("causal").read_text(), name="m")
    (tmp_path / "m.py").write_text(compile_source(_example("alibi").read_text()).code)
    sys.modules.pop("_attncc_checked_m")  # as in a fresh process
    spec = importlib.util.spec_from_file_location("_checks_mismatch", tmp_path / "test_m.py")
    with pytest.raises(ImportError, match="another version of the spec"):
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


# ---------------------------------------------------------------- generated values and shapes

def _spec(text):
    return front_end(text)


def test_fully_masked_rows_get_a_case_when_the_mask_makes_them(tmp_path):
    checks = _write_pair(tmp_path, "attention strict\nmask = j < i\n")  # row 0 sees no key
    case = checks.fully_masked_case()
    assert case is not None and checks.skipped() == []
    assert any(label.endswith(case.name) for label, _ in checks.checks())
    assert not _failed_tensors(checks)


def test_no_fully_masked_case_is_reported_with_the_reason(tmp_path):
    checks = _write_pair(tmp_path, "attention causal\nmask = j <= i\n")
    assert checks.fully_masked_case() is None
    assert checks.skipped() and "leaves every row some key" in checks.skipped()[0]


def test_cross_attention_only_where_the_spec_allows_it():
    assert cross_allowed(_spec("attention a\nmask = j <= i\n"))
    assert cross_allowed(_spec("attention a\ninput bias[H, M]\nscore = s + bias[h, j]\n"))
    assert not cross_allowed(_spec("attention a\ninput doc[B, N]: int32 sorted\nmask = doc[b, i] == doc[b, j]\n"))
    assert not cross_allowed(_spec("attention a\nfeature = elu(x) + 1\nmask = j <= i\nnorm = sum\n"))
    assert cross_allowed(_spec("attention a\nfeature = elu(x) + 1\nnorm = sum\n"))


def test_params_keep_defaults_unless_longer_than_the_checks():
    spec = _spec("attention a\nparam window: int = 4096\nparam sinks: int = 4\nparam cap: float\n"
                 "param flag: bool\nmask = i - j < window or j < sinks\nscore = where(flag, cap * tanh(s / cap), s)\n")
    chosen = {p.name: p for p in choose_params(spec, {})}
    assert chosen["window"].value == 64 and "4096" in chosen["window"].note
    assert chosen["sinks"].value == 4 and chosen["sinks"].note == ""
    assert chosen["cap"].value == 1.0 and chosen["flag"].value is True
    assert {p.name: p.value for p in choose_params(spec, {"window": 100})}["window"] == 100


def test_inputs_get_values_their_use_needs(tmp_path):
    source = ("attention a\n"
              "param radius: int = 3\n"
              "input table[H, 2 * radius + 1]\n"
              "input pos[B, N]: int32\n"
              "input seg[B, N]: int32\n"
              "input doc[B, N]: int64 sorted\n"
              "input temp[H]\n"
              "input noise[H]\n"
              "input flag[H]: bool\n"
              "mask = seg[b, i] == seg[b, j] and doc[b, i] == doc[b, j] and (flag[h] or j <= i)\n"
              "score = s / temp[h] + table[h, pos[b, i]] + noise[h]\n")
    why = {x.name: x.why for x in choose_inputs(_spec(source), {})}
    assert "inside its dim" in why["pos"] and "small ids" in why["seg"] and "document" in why["doc"]
    assert "positive" in why["temp"] and "normal" in why["noise"] and "true/false" in why["flag"]
    checks = _write_pair(tmp_path, source)
    values = checks.input_values(checks.CASES[2], 1)
    assert int(values["pos"].max()) < 2 * 3 + 1 and int(values["pos"].min()) >= 0
    assert int(values["seg"].max()) < 4 and values["seg"].dtype == torch.int32
    assert bool((values["doc"][..., 1:] >= values["doc"][..., :-1]).all()) and values["doc"].dtype == torch.int64
    assert float(values["temp"].min()) > 0


def test_decay_and_sum_norm_inputs_are_positive():
    decay = _spec("attention a\ninput g[H]\nfeature = x\ndecay = g[h]\nmask = j <= i\nnorm = none\n")
    assert "(0, 1)" in choose_inputs(decay, {})[0].why
    summed = _spec("attention a\ninput w[H]\nscore = exp(s) * w[h]\nnorm = sum\n")
    assert "positive" in choose_inputs(summed, {})[0].why


# ---------------------------------------------------------------- the user's values

def test_check_values_file_and_options_reach_the_generated_file(tmp_path):
    values_file = tmp_path / "values.json"
    values_file.write_text(json.dumps({"params": {"window": 5}, "inputs": {"slopes": {"low": 0.1, "high": 0.2}}}))
    source = "attention a\nparam window: int = 32\ninput slopes[H]\nmask = i - j < window and j <= i\n" \
             "score = s - slopes[h] * (i - j)\n"
    spec_file = tmp_path / "a.attn"
    spec_file.write_text(source)
    assert cli.main(["compile", str(spec_file), "-o", str(tmp_path / "a.py"), "--tests",
                     "--check-values", str(values_file), "--param", "window=7"]) == 0
    text = (tmp_path / "test_a.py").read_text()
    assert "'window': 7,  # given" in text  # the option wins over the file
    assert "_uniform((H,), 0.1, 0.2, _g)" in text
    checks = _write_pair(tmp_path, source, values=values_from_cli(["window=7"], ["slopes=0.1:0.2"]), name="b")
    slopes = checks.input_values(checks.CASES[0], 3)["slopes"]
    assert float(slopes.min()) >= 0.1 and float(slopes.max()) < 0.2


@pytest.mark.parametrize("params,inputs,message", [
    (["windw=3"], [], "has no param 'windw'"),
    (["window=3.5"], [], "expected an int; got '3.5'"),
    ([], ["slopes=0.5:0.1"], "needs low < high"),
    ([], ["flag=0:1"], "takes true or false, not a range"),
    (["window"], [], "--param takes NAME=VALUE"),
])
def test_bad_check_values_name_the_option_and_the_fix(params, inputs, message):
    spec = _spec("attention a\nparam window: int = 3\ninput slopes[H]\ninput flag[H]: bool\n"
                 "mask = i - j < window or flag[h]\nscore = s * slopes[h]\n")
    with pytest.raises(CheckValuesError, match=message.replace("(", r"\(")):
        resolve(spec, values_from_cli(params, inputs))


def test_bad_check_values_files(tmp_path):
    from attncc.checks.values import read_values_file

    bad = tmp_path / "bad.json"
    for text, message in [("{", "not valid JSON"), ('{"param": {}}', "unknown key 'param'"),
                          ('{"inputs": []}', "'inputs' must be an object")]:
        bad.write_text(text)
        with pytest.raises(CheckValuesError, match=message):
            read_values_file(bad)
    with pytest.raises(CheckValuesError, match="no such check-values file"):
        read_values_file(tmp_path / "missing.json")
    spec = _spec("attention a\nparam window: int = 3\nmask = i - j < window\n")
    bad.write_text('{"params": {"window": true}}')
    with pytest.raises(CheckValuesError, match=r"bad.json: params.window: expected an int; got true"):
        resolve(spec, read_values_file(bad))


def test_cli_usage_errors(tmp_path, capsys):
    spec = str(_example("sliding_window"))
    assert cli.main(["compile", spec, "-o", "-", "--tests"]) == 2
    assert "needs the module in a file" in capsys.readouterr().err
    assert cli.main(["compile", spec, "-o", str(tmp_path / "m.py"), "--param", "window=3"]) == 2
    assert "add --tests" in capsys.readouterr().err
    assert cli.main(["compile", spec, "-o", str(tmp_path / "m.py"), "--tests", "checks.txt"]) == 2
    assert "needs a .py file name" in capsys.readouterr().err
    assert cli.main(["compile", spec, "-o", str(tmp_path / "m.py"), "--tests", "m.py"]) == 2
    assert "would overwrite the module" in capsys.readouterr().err
    assert cli.main(["check", spec, "--param", "windw=3"]) == 2
    assert "has no param 'windw'" in capsys.readouterr().err
    assert cli.main(["check", spec, str(_example("causal")), "--param", "nothing=3"]) == 2
    assert "none of the specs has a param or input 'nothing'" in capsys.readouterr().err
    assert cli.main(["check", str(tmp_path / "missing.attn")]) == 2
    assert not list(tmp_path.iterdir())


def test_check_reports_a_bad_spec_and_goes_on(tmp_path, capsys):
    bad = tmp_path / "bad.attn"
    bad.write_text("attention bad\nmask = j <= windw\n")
    assert cli.main(["check", str(bad), str(_example("causal"))]) == 1
    out = capsys.readouterr().out
    assert "unknown name 'windw'" in out and "PASS causal:" in out and "1 passed, 1 failed" in out


def test_values_apply_to_the_specs_that_declare_them(capsys):
    # sliding_window declares window, causal does not: one --param serves both.
    assert cli.main(["check", str(_example("sliding_window")), str(_example("causal")), "--param", "window=5"]) == 0
    out = capsys.readouterr().out
    assert "params: window=5 (given)" in out


def test_generated_checks_are_deterministic():
    result = compile_source(_example("rpb1d").read_text(), "x", "triton")
    first = render_tests(result.spec, "rpb1d.py", "test_rpb1d.py", "triton", CheckValues())
    assert first == render_tests(result.spec, "rpb1d.py", "test_rpb1d.py", "triton", CheckValues())
    assert str(ROOT) not in first  # no absolute paths baked in


# ---------------------------------------------------------------- random specs

@pytest.mark.filterwarnings("ignore::RuntimeWarning:triton.runtime.interpreter")
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                HealthCheck.function_scoped_fixture])
@given(random_specs())
def test_generated_checks_run_on_random_specs(tmp_path, source):
    """The generated values work for any valid spec (int tables, bool flags, sorted ids, every
    norm), and its module passes its own checks at one shape. In float64, where the rule asks for
    1e-5: these specs include ill-conditioned scores (M / (abs(s) + 1): logits of 60 with
    derivatives of 60), whose float32 errors are rounding noise that the rule's factor 2 over the
    reference's own noise does not always cover."""
    checks = _write_pair(Path(tempfile.mkdtemp(dir=tmp_path)), source)
    for case in checks.shapes():
        checks.input_values(case, 0)
    rows = checks.compare(checks.CASES[0], torch.float64)
    assert all(row.ok for row in rows), (source, [checks.describe_failure(r) for r in rows if not r.ok])
