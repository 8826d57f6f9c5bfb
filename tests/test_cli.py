"""The command line as a user runs it: `python -m attncc` and the `attncc` script."""

import os
import subprocess
import sys
from pathlib import Path

import attncc
from attncc.driver import loader
from conftest import ROOT

GOOD = 'attention demo "A demo."\nparam window: int = 4\nmask = j <= i and i - j < window\n'
BAD = "attention demo\nparam window: int = 4\nmask = j <= i and i - j < windw\nscore = tanhh(s)\n"


def run(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "attncc", *args], capture_output=True, text=True, cwd=cwd, env=env)


def test_compile_writes_a_module_and_is_byte_identical(tmp_path):
    spec = tmp_path / "demo.attn"
    spec.write_text(GOOD)
    for backend in ("triton", "torch"):
        first, second = tmp_path / f"{backend}_a.py", tmp_path / f"{backend}_b.py"
        assert run("compile", str(spec), "-o", str(first), "--backend", backend).returncode == 0
        assert run("compile", str(spec), "-o", str(second), "--backend", backend).returncode == 0
        assert first.read_bytes() == second.read_bytes()
        compile(first.read_text(), str(first), "exec")
        assert f"BACKEND = '{backend}'" in first.read_text()


def test_default_backend_is_triton_for_every_family(tmp_path):
    spec = tmp_path / "demo.attn"
    spec.write_text(GOOD)
    result = run("compile", str(spec), "-o", str(tmp_path / "demo.py"))
    assert result.returncode == 0 and "(triton backend)" in result.stderr
    assert "@triton.jit" in (tmp_path / "demo.py").read_text()
    learned = tmp_path / "learned.attn"
    learned.write_text("attention learned\ninput g[H] learnable\nfeature = taylor2(x)\ndecay = sigmoid(g[h])\n"
                       "mask = j <= i\nnorm = none\n")
    result = run("compile", str(learned), "-o", str(tmp_path / "learned.py"))
    assert result.returncode == 0 and "(triton backend)" in result.stderr
    assert attncc.load(learned.read_text()).BACKEND == "triton"


def test_compile_default_output_and_stdout(tmp_path):
    spec = tmp_path / "demo.attn"
    spec.write_text(GOOD)
    assert run("compile", str(spec), cwd=tmp_path).returncode == 0
    assert (tmp_path / "demo.py").is_file()
    result = run("compile", str(spec), "-o", "-")
    assert result.returncode == 0 and result.stdout == (tmp_path / "demo.py").read_text()


def test_bad_spec_reports_every_error_without_traceback_or_clobbering(tmp_path):
    spec = tmp_path / "bad.attn"
    spec.write_text(BAD)
    out = tmp_path / "out.py"
    out.write_text("previous contents\n")
    result = run("compile", str(spec), "-o", str(out))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == f"{spec}:3:27: error: unknown name 'windw'; did you mean 'window'?"
    assert lines[1] == "    mask = j <= i and i - j < windw"
    assert lines[2] == "    " + " " * 26 + "^"
    assert f"{spec}:4:9: error: unknown function 'tanhh'; did you mean 'tanh'?" in lines
    assert lines[-1] == "2 errors"
    assert out.read_text() == "previous contents\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.attn", "out.py"]


def test_usage_errors_are_short(tmp_path):
    result = run("compile", str(tmp_path / "missing.attn"))
    assert result.returncode == 2 and "no such spec file" in result.stderr and "Traceback" not in result.stderr
    spec = tmp_path / "demo.attn"
    spec.write_text(GOOD)
    result = run("compile", str(spec), "--backend", "cuda", "-o", str(tmp_path / "x.py"))
    assert result.returncode == 2 and "invalid choice: 'cuda'" in result.stderr


def test_show_prints_the_simplified_spec_and_a_mask_picture(tmp_path):
    spec = tmp_path / "demo.attn"
    spec.write_text(GOOD)
    result = run("show", str(spec), "-N", "16")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "mask    = j <= i and i - j < window" in out and "d score/ds = 1.0" in out
    picture = [line for line in out.splitlines() if line.startswith("  │")]
    assert len(picture) == 8  # 16 rows, two per line
    assert picture[0] == "  │█▄" + "·" * 14 + "│"  # rows 0 and 1: keys 0, and 0 and 1
    assert "58 of 256 pairs allowed" in out  # 1 + 2 + 3 + 4 * 13


def test_show_counts_the_kernel_tiles(tmp_path, capsys):
    from attncc.commands.cli import main

    spec = tmp_path / "demo.attn"
    spec.write_text(GOOD)
    result = run("show", str(spec), "-N", "32", "-H", "2", "--block-m", "8", "--block-n", "8")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # per head: 4 x 4 tiles; the diagonal and the one below it are partial, the key loop visits
    # one tile for the first query block and two for each other
    assert lines[-2] == ("tiles (block_m=8, block_n=8, N=32, M=32, summed over B=1 x H=2): "
                         "14 visited of 32; empty 18, full 0, partial 14")
    assert lines[-1] == "  keys visited for queries [i_lo, i_hi]: [max(i_lo - window + 1, 0), min(i_hi + 1, M))"

    def show(*args):
        assert main(["show", *args]) == 0
        return capsys.readouterr().out

    out = show(str(spec), "-N", "32", "--block-m", "2", "--block-n", "2", "--param", "window=5")
    assert "45 visited of 256; empty 211, full 15, partial 30" in out  # 2 x 2 tiles: some full
    assert "tiles (block_m=64, block_n=64, N=16," in show(str(spec), "-N", "16")  # the default
    tiled = tmp_path / "tiled.attn"
    tiled.write_text("attention tiled\nmask = j <= i\ntile block_m = 32 | 64, block_n = 16\n")
    assert "tiles (block_m=32, block_n=16, N=64, M=64, summed over B=1 x H=1): 6 visited of 8; " \
        "empty 2, full 2, partial 4" in show(str(tiled), "-N", "64")
    assert main(["show", str(spec), "--block-n", "0"]) == 2
    assert "--block-n must be at least 1" in capsys.readouterr().err


def test_show_needs_required_params_for_the_picture(tmp_path):
    spec = tmp_path / "w.attn"
    spec.write_text("attention w\nparam width: int\nmask = i // width == j // width\n")
    result = run("show", str(spec), "-N", "8")
    assert result.returncode == 0 and "no value for param 'width'" in result.stdout
    result = run("show", str(spec), "-N", "8", "--param", "width=4")
    assert "32 of 64 pairs allowed" in result.stdout


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "attncc"
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == f"attncc {attncc.__version__}"


def test_load_caches_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTNCC_CACHE_DIR", str(tmp_path / "cache"))
    first = attncc.load(GOOD, backend="torch")
    files = list((tmp_path / "cache").iterdir())
    assert len(files) == 1
    loader._LOADED.clear()
    again = attncc.load(GOOD, backend="torch")  # from the cached file, not recompiled
    assert list((tmp_path / "cache").iterdir()) == files
    assert again.SPEC_HASH == first.SPEC_HASH
    other = attncc.load(GOOD.replace("4", "5"), backend="torch")
    assert other.PARAMS["window"] == ("int", 5)
    assert len(list((tmp_path / "cache").iterdir())) == 2


def test_load_raises_spec_error_with_the_diagnostics():
    try:
        attncc.load(BAD, backend="torch")
    except attncc.SpecError as exc:
        assert "<spec>:3:27: error: unknown name 'windw'" in str(exc)
    else:
        raise AssertionError("a bad spec loaded")


def test_load_names_an_unknown_backend():
    try:
        attncc.load(GOOD, backend="cuda")
    except ValueError as exc:
        assert "unknown backend 'cuda'; expected one of torch, triton" in str(exc)
    else:
        raise AssertionError("an unknown backend loaded")
