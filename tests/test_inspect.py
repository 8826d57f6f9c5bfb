"""`attncc inspect`: the kernels compiled for a GPU without one, and what their cubins say.

The SASS reader is tried on a hand-written listing (loops, load kinds, MMA kinds), then the
command end to end on the causal example: the schedule's configs for an H200, registers from
the cubin, wgmma on sm_90 and mma.sync on sm_80, a `--tile` that reaches the kernels, the
per-element figure, and usage errors named.
"""

import json

import pytest

from attncc.commands.cli import main
from attncc.inspect import sass
from conftest import ROOT

CAUSAL = str(ROOT / "examples" / "causal.attn")

LISTING = """
        /*0000*/                   LDC R1, c[0x0][0x28] ;
        /*0010*/               @P1 LDG.E.U16 R4, desc[UR4][R2.64] ;
        /*0020*/                   LDG.E.128 R8, desc[UR4][R6.64] ;
        /*0030*/                   LDGSTS.E.BYPASS.128 [R3], desc[UR4][R6.64] ;
        /*0040*/                   HGMMA.64x64x16.F32.BF16 R24, gdesc[UR8], RZ, !UPT ;
        /*0050*/                   UTMALDG.2D [UR8], [UR10] ;
        /*0060*/              @!P0 BRA 0x30 ;
        /*0070*/                   STL [R1], R4 ;
        /*0080*/                   EXIT ;
        /*0090*/                   BRA 0x90;
"""


def test_the_sass_reader_finds_loops_loads_and_mma():
    instructions = sass.parse_sass(LISTING)
    assert [op for _, op, _ in instructions][:3] == ["LDC", "LDG.E.U16", "LDG.E.128"]
    loops = sass.loops_of(instructions)
    assert len(loops) == 1  # the branch to itself after EXIT is no loop
    (loop,) = loops
    assert (loop.start, loop.end, loop.instructions, loop.mma) == (0x30, 0x60, 4, 1)
    assert loop.loads == {"cp.async": 1, "tma": 1}
    assert sass.load_kind("LDG.E.U16") == "ldg.16" and sass.load_kind("LDG.E") == "ldg.32"
    assert sass.load_kind("LDG.E.64.CONSTANT") == "ldg.64" and sass.load_kind("STG.E") is None
    assert sass.load_kind("LDGDEPBAR") is None  # cp.async's commit group, not a load
    assert sass.mma_kind(["HGMMA.64x64x16.F32.BF16"]) == "wgmma"
    assert sass.mma_kind(["HMMA.16816.F32.BF16"]) == "mma.sync"
    assert sass.mma_kind(["FFMA"]) == "none"


def _inspect(capsys, *argv):
    assert main(["inspect", CAUSAL, "--json", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_inspect_reports_every_kernel_of_both_passes_for_an_h200(capsys):
    doc = _inspect(capsys)
    assert doc["schema"] == "attncc-inspect/1" and doc["arch"] == "sm90" and doc["dtype"] == "bfloat16"
    kernels = {k["kernel"]: k for k in doc["kernels"]}
    assert set(kernels) == {"_fwd_kernel", "_bwd_preprocess_kernel", "_bwd_kv_kernel", "_bwd_q_kernel"}
    fwd = kernels["_fwd_kernel"]
    # The schedule's default for an H200 forward (docs/tuning.md), compiled as the JIT would.
    assert fwd["tile"] == {"block_m": 128, "block_n": 64} and (fwd["warps"], fwd["stages"]) == (8, 3)
    assert fwd["pass"] == "forward" and kernels["_bwd_q_kernel"]["pass"] == "backward"
    for name in ("_fwd_kernel", "_bwd_kv_kernel", "_bwd_q_kernel"):
        k = kernels[name]
        assert k["mma"] == "wgmma" and 0 < k["registers"] <= 255 and k["shared_bytes"] > 0
        main_loops = [loop for loop in k["loops"] if loop["main"]]
        assert main_loops and all(loop["mma"] > 0 for loop in main_loops)
        per_thread = k["tile"]["block_m"] * k["tile"]["block_n"] / (32 * k["warps"])
        assert k["elements_per_thread"] == per_thread
        assert all(loop["per_element"] == round(loop["instructions"] / per_thread, 2) for loop in main_loops)
        assert sum(k["loads"].values()) > 0 and k["compile_seconds"] >= 0
    assert kernels["_bwd_preprocess_kernel"]["mma"] == "none"


def test_inspect_takes_a_tile_an_architecture_and_the_forward_only(capsys):
    doc = _inspect(capsys, "--arch", "sm80", "--tile", "block_m=64,block_n=32,warps=4,stages=2", "--forward-only",
                   "-D", "128", "--shape", "2,4,1000,700,2")
    (fwd,) = doc["kernels"]
    assert doc["arch"] == "sm80" and doc["sizes"] == {"B": 2, "H": 4, "HKV": 2, "N": 1000, "M": 700, "D": 128, "DV": 128}
    assert fwd["tile"] == {"block_m": 64, "block_n": 32} and (fwd["warps"], fwd["stages"]) == (4, 2)
    assert fwd["mma"] == "mma.sync"


def test_the_table_names_each_kernel(capsys):
    assert main(["inspect", CAUSAL, "--forward-only"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("attncc inspect causal (") and "_fwd_kernel" in out and "wgmma" in out


@pytest.mark.parametrize("argv, message", [
    (["--tile", "block_m=64,bogus=1"], "--tile takes NAME=VALUE pairs"),
    (["--shape", "1,2"], "--shape takes 3 to 5 positive integers"),
    (["--shape", "1,3,64,64,2"], "must be a multiple of HKV=2"),
    (["--param", "nope=1"], "nope"),
    (["--tile", "block_m=128,block_n=128,warps=8,stages=4", "-D", "256"], "kernel_options for the forward kernel"),
])
def test_usage_errors_name_the_option(capsys, argv, message):
    assert main(["inspect", CAUSAL, *argv]) == 2
    assert message in capsys.readouterr().err


def test_the_schedules_shared_memory_estimates_cover_pipelined_kernels(capsys):
    """The causal kernels' tile loops have no may-test, so Triton multi-buffers their loads: the
    estimate (runtime/schedule.py) must still never be under what sm_90 compiles."""
    from attncc.runtime import schedule

    parts = {"_fwd_kernel": "fwd", "_bwd_kv_kernel": "bwd_kv", "_bwd_q_kernel": "bwd_q"}
    for D, tile in ((64, "block_m=128,block_n=64,warps=8,stages=3"), (128, "block_m=64,block_n=32,warps=4,stages=3")):
        doc = _inspect(capsys, "-D", str(D), "--tile", tile)
        for k in doc["kernels"]:
            if k["kernel"] in parts:
                config = dict(k["tile"], warps=k["warps"], stages=k["stages"])
                if k["kernel"] == "_bwd_q_kernel":  # it runs block_n query rows, block_m keys
                    config.update(block_m=k["tile"]["block_n"], block_n=k["tile"]["block_m"])
                estimate = schedule.part_shared(parts[k["kernel"]], config, (D, D, 2))
                assert k["stages"] == 3 and estimate >= k["shared_bytes"], (D, k["kernel"], estimate, k["shared_bytes"])
