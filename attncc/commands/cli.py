"""The `attncc` command line: compile (with --tests, the generated checks), check and show.

Every spec problem is printed as diagnostics (FILE:LINE:COL: error: ...) on stderr with exit
status 1, as is an output that cannot be written (one line naming the path); a usage problem
exits 2; an internal compiler error exits 3 with a one-line summary
(set ATTNCC_DEBUG=1 for the traceback). Nothing is written unless compilation succeeded.
`attncc check` exits 1 when a check fails (or a spec does not compile), 0 when all pass.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from .._version import __version__
from ..bench.measure import BenchUsageError
from ..bench.command import add_bench_arguments, dtype_name, param_and_input_values, run_bench
from ..checks.values import CheckValues, CheckValuesError, read_values_file, values_from_cli
from ..driver.pipeline import BACKENDS, DEFAULT_BACKEND, compile_spec, front_end, strip_bom
from ..inspect.command import InspectUsageError, add_inspect_arguments, run_inspect
from ..language.errors import SpecError
from ..checks.generate import render_tests
from ..runtime.schedule import write_atomic

def _read(path: str) -> str:
    try:
        return strip_bom(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _UsageError(f"no such spec file: {path}") from None
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise _UsageError(f"cannot read {path}: {exc}") from None


class _UsageError(Exception):
    pass


class _OutputError(Exception):
    """A file the command must write cannot be written (a user's problem: exit 1)."""


def _write(path: Path, text: str) -> None:
    try:
        write_atomic(path, text)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if path.is_dir():
            reason = "it is a folder; give a file name in it"
        for parent in path.absolute().parents:
            if parent.exists() and not parent.is_dir():
                reason = f"{parent} is a file, not a folder"
        if isinstance(exc, PermissionError):
            reason = f"permission denied in {path.absolute().parent}; choose a folder you can write to"
        raise _OutputError(f"cannot write {path}: {reason}") from None


def _print_warnings(result, source: str, filename: str) -> None:
    for warning in result.warnings:
        print(warning.format(source, filename), file=sys.stderr)


def _check_values(args) -> CheckValues:
    """The --check-values file with the --param and --input options on top."""
    values = read_values_file(args.check_values) if args.check_values else CheckValues()
    return values.merged(values_from_cli(args.param, args.input))


def _tests_path(tests: str, output: Path) -> Path:
    """Where --tests writes: a bare file name goes next to the module."""
    path = Path(tests) if tests else Path(f"test_{output.stem}.py")
    if path.suffix != ".py":
        raise _UsageError(f"--tests needs a .py file name (e.g. test_{output.stem}.py); got {tests}")
    return output.parent / path if len(path.parts) == 1 else path


def cmd_compile(args) -> int:
    source = _read(args.spec)
    values = _check_values(args)
    if args.tests is None and (args.check_values or args.param or args.input):
        raise _UsageError("--check-values, --param and --input set the values of the generated checks; "
                          "add --tests")
    if args.tests is not None and args.output == "-":
        raise _UsageError("--tests needs the module in a file for the checks to import; give -o FILE.py")
    if args.tuned and args.backend != "triton":
        raise _UsageError("--tuned compiles tuned tile sizes into Triton kernels; drop it or use --backend triton")
    spec = front_end(source, args.spec)
    tuned = None
    if args.tuned:
        from .tune import tuned_for

        tuned = tuned_for(spec.source_hash)
    result = compile_spec(spec, args.backend, tuned)
    _print_warnings(result, source, args.spec)
    if tuned is not None:
        print(f"compiled in {len(tuned)} tuned config(s) from the tuning cache" if tuned else
              "the tuning cache has no configs for this spec (attncc tune first); compiled without",
              file=sys.stderr)
    if args.output == "-":
        sys.stdout.write(result.code)
        return 0
    output = Path(args.output) if args.output else Path(Path(args.spec).stem + ".py")
    tests_code = tests = None
    if args.tests is not None:
        tests = _tests_path(args.tests, output)
        if tests.resolve() == output.resolve():
            raise _UsageError(f"--tests {tests} would overwrite the module; give the checks another name")
        module_file = os.path.relpath(output.resolve(), tests.resolve().parent).replace(os.sep, "/")
        tests_code = render_tests(result.spec, module_file, tests.name, result.backend, values)
    _write(output, result.code)
    print(f"wrote {output} ({result.backend} backend)", file=sys.stderr)
    if tests is not None:
        _write(tests, tests_code)
        print(f"wrote {tests} (its checks: pytest {tests})", file=sys.stderr)
    return 0


def cmd_check(args) -> int:
    from ..checks.run import check_specs

    for path in args.specs:
        if not Path(path).is_file():
            raise _UsageError(f"no such spec file: {path}")
    return check_specs(args.specs, args.backend, _check_values(args))


def cmd_tune(args) -> int:
    from . import tune as tuning

    if args.show:
        spec_hash = None
        if args.spec:
            spec_hash = front_end(_read(args.spec), args.spec).source_hash
        print(tuning.show_cache(spec_hash=spec_hash))
        return 0
    if not args.spec or not args.shape:
        raise _UsageError("attncc tune needs a spec and --shape B,H,N,D[,M,HKV,DV] (or --show to list the cache)")
    if args.max_configs is not None and args.max_configs < 1:
        raise _UsageError(f"--max-configs must be at least 1; got {args.max_configs}")
    from ..bench.measure import choose_dtype, choose_target, parse_shape

    source = _read(args.spec)
    spec = front_end(source, args.spec)
    shape, _ = parse_shape(args.shape)
    params, given_inputs = param_and_input_values(spec, args)
    target = choose_target(args.allow_cpu, 1, "tune")  # first: it sets TRITON_INTERPRET for the CPU
    return tuning.run_tune(spec, source, shape, choose_dtype(args.dtype, target), target, args.backward, params,
                           given_inputs, args.max_configs)


def cmd_show(args) -> int:
    from .show import show

    source = _read(args.spec)
    values = {}
    for item in args.param or []:
        if "=" not in item:
            raise _UsageError(f"--param takes NAME=VALUE; got {item!r}")
        name, value = item.split("=", 1)
        values[name.strip()] = value.strip()
    sizes = {"B": args.B, "H": args.H, "N": args.N, "M": args.M if args.M else args.N}
    for name in ("block_m", "block_n"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise _UsageError(f"--{name.replace('_', '-')} must be at least 1; got {getattr(args, name)}")
    print(show(source, args.spec, sizes=sizes, param_text=values, batch=args.batch, head=args.head,
               block_m=args.block_m, block_n=args.block_n))
    return 0


def _add_value_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--check-values", metavar="FILE.json",
                   help='values for the checks: {"params": {NAME: VALUE}, "inputs": {NAME: VALUE or '
                        '{"low": L, "high": H}}}')
    p.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="a param's value in the checks (over several specs: those that declare it)")
    p.add_argument("--input", action="append", metavar="NAME=VALUE|LOW:HIGH",
                   help="an input's value in the checks: one value everywhere, or uniform draws from [LOW, HIGH)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attncc", description="Compile .attn attention specs to kernels.")
    parser.add_argument("--version", action="version", version=f"attncc {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("compile", help="compile a spec to a standalone Python module")
    p.add_argument("spec", help="the .attn file")
    p.add_argument("-o", "--output", help="the module to write (default: SPEC_STEM.py here; '-' for stdout)")
    p.add_argument("--backend", default=DEFAULT_BACKEND, choices=BACKENDS,
                   help=f"code generator (default: {DEFAULT_BACKEND})")
    p.add_argument("--tests", nargs="?", const="", default=None, metavar="TEST_FILE.py",
                   help="also write the generated checks (a pytest file; default test_MODULE.py), "
                        "next to the module when given as a bare file name")
    p.add_argument("--tuned", action="store_true",
                   help="compile in the tuning cache's tile configs for this spec (see attncc tune)")
    _add_value_options(p)
    p.set_defaults(run=cmd_compile)

    p = sub.add_parser("check", help="compile specs with their generated checks and run them; print a table")
    p.add_argument("specs", nargs="+", metavar="SPEC", help="the .attn files")
    p.add_argument("--backend", default=DEFAULT_BACKEND, choices=BACKENDS,
                   help=f"code generator to check (default: {DEFAULT_BACKEND})")
    _add_value_options(p)
    p.set_defaults(run=cmd_check)

    p = sub.add_parser("tune", help="benchmark a spec's tile configs on the GPU and keep the winners in the tuning cache")
    p.add_argument("spec", nargs="?", help="the .attn file")
    p.add_argument("--shape", metavar="B,H,N,D[,M,HKV,DV]", help="the call to tune for (M defaults to N, HKV to H, "
                   "DV to D); the winner holds for lengths in the same power-of-two bucket")
    p.add_argument("--dtype", type=dtype_name, default=None, metavar="{bf16,fp16,fp32}",
                   help="q, k, v dtype, also as bfloat16, float16, float32 (default: bf16 on a GPU, fp32 under "
                        "the interpreter)")
    p.add_argument("--backward", action="store_true", help="also tune the backward kernels")
    p.add_argument("--max-configs", type=int, default=None, metavar="K",
                   help="benchmark at most K configs per kernel, the ones closest to the default")
    p.add_argument("--allow-cpu", action="store_true",
                   help="without a GPU, tune under Triton's interpreter (to try the command: not kernel speed)")
    p.add_argument("--show", action="store_true", help="list the tuning cache (with SPEC: that spec's entries)")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="a param's value for the tuned call")
    p.add_argument("--input", action="append", metavar="NAME=VALUE|LOW:HIGH",
                   help="an input's value for the tuned call: one value everywhere, or uniform draws from [LOW, HIGH)")
    p.set_defaults(run=cmd_tune)

    p = sub.add_parser("bench", help="time a spec's kernels against SDPA and FlexAttention; write JSON and a plot")
    add_bench_arguments(p)
    p.set_defaults(run=run_bench)

    p = sub.add_parser("inspect", help="compile a spec's kernels for a GPU without one; report registers, spills, "
                                        "shared memory, MMA, loads and loop sizes (docs/inspect.md)")
    add_inspect_arguments(p)
    p.set_defaults(run=run_inspect)

    p = sub.add_parser("show", help="print the spec as the compiler understands it, and its mask")
    p.add_argument("spec", help="the .attn file")
    p.add_argument("-N", type=int, default=32, help="query length of the mask picture (default 32)")
    p.add_argument("-M", type=int, default=0, help="key length of the mask picture (default: N)")
    p.add_argument("-B", type=int, default=1, help="batch size for the picture's inputs (default 1)")
    p.add_argument("-H", type=int, default=1, help="heads for the picture's inputs (default 1)")
    p.add_argument("--batch", type=int, default=0, help="which batch row to draw (default 0)")
    p.add_argument("--head", type=int, default=0, help="which head to draw (default 0)")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="a param value for the picture")
    p.add_argument("--block-m", type=int, default=None,
                   help="query tile size for the tile counts (default: the spec's first block_m, else 64)")
    p.add_argument("--block-n", type=int, default=None,
                   help="key tile size for the tile counts (default: the spec's first block_n, else 64)")
    p.set_defaults(run=cmd_show)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except SpecError as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    except (_UsageError, CheckValuesError, BenchUsageError, InspectUsageError) as exc:
        print(f"attncc: error: {exc}", file=sys.stderr)
        return 2
    except _OutputError as exc:
        print(f"attncc: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a compiler bug: say so plainly
        if os.environ.get("ATTNCC_DEBUG"):
            traceback.print_exc()
        print(f"attncc: internal error: {type(exc).__name__}: {exc} (set ATTNCC_DEBUG=1 for details; "
              "please report it with the spec)", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
