"""`attncc tune`, `attncc tune --show` and `attncc compile --tuned`, end to end under the
interpreter (`--allow-cpu`), with the tuning cache in a temporary folder."""

from pathlib import Path

import pytest

from attncc.runtime import schedule
from attncc.commands.cli import main
from attncc.driver.loader import import_file

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CAUSAL = str(EXAMPLES / "causal.attn")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    path = tmp_path / "tuning.json"
    monkeypatch.setenv("ATTNCC_TUNING_CACHE", str(path))
    return path


def test_tune_then_show_then_compile_tuned(tmp_path, cache, capsys):
    spec = str(EXAMPLES / "sliding_window.attn")
    status = main(["tune", spec, "--shape", "1,2,40,16", "--backward", "--allow-cpu",  # fp32 by default here
                   "--max-configs", "2", "--param", "window=8"])
    out, err = capsys.readouterr()
    assert status == 0
    assert "CPU INTERPRETER" in err and "nothing about kernel speed" in err
    assert "[############............] 1/2 " in err and "[########################] 2/2 " in err
    assert out.splitlines()[0].startswith("forward  block_m=")
    assert out.splitlines()[1].startswith("backward block_m=")
    assert "(best of 2)" in out and f"kept in {cache}" in out
    entries, problem = schedule.read_cache(str(cache))
    assert problem is None
    assert sorted(schedule.key_fields(k)["kernel"] for k in entries) == ["backward", "forward"]
    assert {schedule.key_fields(k)["N"] for k in entries} == {64}
    assert {schedule.key_fields(k)["dtype"] for k in entries} == {"float32"}

    assert main(["tune", "--show", spec]) == 0
    shown = capsys.readouterr().out
    assert shown.splitlines()[0] == f"tuning cache: {cache}"
    assert shown.count("sliding_window") == 2 and "interpreter" in shown
    assert main(["tune", "--show", str(EXAMPLES / "causal.attn")]) == 0
    assert "(no entries for this spec)" in capsys.readouterr().out

    module = tmp_path / "sw.py"
    assert main(["compile", spec, "-o", str(module), "--tuned"]) == 0
    assert "compiled in 2 tuned config(s)" in capsys.readouterr().err
    compiled = import_file(module, "sw_tuned")
    assert compiled._TUNED == {key.rsplit("|", 1)[0]: e["config"] for key, e in entries.items()}
    assert main(["compile", str(EXAMPLES / "causal.attn"), "-o", str(tmp_path / "c.py"), "--tuned"]) == 0
    assert "has no configs for this spec" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["tune", CAUSAL, "--shape", "1,2,40,16"], "no CUDA GPU here: `attncc tune` times GPU kernels. Pass --allow-cpu"),
    (["tune", CAUSAL, "--shape", "1,2,40"], "--shape takes B,H,N,D[,M,HKV,DV] (positive integers; M defaults to N"),
    (["tune", CAUSAL, "--shape", "1,2,x,16"], "; got '1,2,x,16'"),
    (["tune", CAUSAL, "--shape", "1,3,40,16,40,2"], "H=3 must be a multiple of HKV=2"),
    (["tune", CAUSAL, "--shape", "1,2,40,16", "--dtype", "int8"], "--dtype takes bf16, fp16 or fp32 (or bfloat16, float16, float32); got 'int8'"),
    (["tune", CAUSAL, "--shape", "1,2,40,16", "--allow-cpu", "--dtype", "bf16"], "--dtype bfloat16 cannot run under Triton's CPU interpreter"),
    (["tune", CAUSAL], "attncc tune needs a spec and --shape"),
    (["tune", CAUSAL, "--shape", "1,2,40,16", "--max-configs", "0"], "--max-configs must be at least 1"),
    (["tune", CAUSAL, "--shape", "1,2,40,16", "--allow-cpu", "--dtype", "fp32", "--param", "w=1"],
     "has no param 'w'"),
    (["compile", CAUSAL, "--backend", "torch", "--tuned", "-o", "-"], "--tuned compiles tuned tile sizes"),
])
def test_tune_usage_errors(argv, message, cache, capsys, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse's own errors (a bad --dtype) exit 2 the same way
        status = exc.code
    assert status == 2
    assert message in capsys.readouterr().err
