"""`attncc check`: compile each spec with its generated checks and run them in this process.

For every spec: compile the module and its test file (generate.py) into a temporary folder, import
the test file exactly as pytest would, run its `checks()` one by one and print a table (each
tensor, its error, the reference's error, the ratio to the allowed error, pass/fail, the time).
Progress goes out as the checks run; a summary ends a run over several specs. The result is
0 when every check of every spec passed, else 1.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, TextIO

from .values import CheckValues, CheckValuesError
from ..driver.pipeline import compile_source, front_end
from ..language.errors import SpecError
from ..driver.loader import import_file
from .generate import render_tests
from ..runtime.schedule import write_atomic

HEADER = ("check", "tensor", "error", "ref error", "ratio", "result", "time")
WIDTHS = (24, 10, 10, 10, 8, 7, 8)


@dataclass
class SpecResult:
    path: str
    passed: bool = False
    tensors: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


def check_specs(paths: list[str], backend: str, values: CheckValues, out: Optional[TextIO] = None) -> int:
    """Run the generated checks of every spec in `paths`; print tables and a summary to `out`
    (default: standard output)."""
    out = out or sys.stdout
    if len(paths) > 1:
        _require_declared(paths, values)
    start = time.perf_counter()
    results = []
    for number, path in enumerate(paths, 1):
        print(f"[{number}/{len(paths)}] {path}", file=out, flush=True)
        results.append(_check_spec(path, backend, values, strict=len(paths) == 1, number=number, out=out))
        print(file=out, flush=True)
    failed = [r for r in results if not r.passed]
    total = time.perf_counter() - start
    if len(paths) > 1:
        print(f"summary: {len(paths)} specs in {_duration(total)}: {len(paths) - len(failed)} passed, "
              f"{len(failed)} failed", file=out)
        for result in failed:
            print(f"  FAIL {result.path}: {result.failures[0]}"
                  + (f" (and {len(result.failures) - 1} more)" if len(result.failures) > 1 else ""), file=out)
    return 1 if failed else 0


def _require_declared(paths: list[str], values: CheckValues) -> None:
    """Over several specs a value applies to those that declare its name; a name that none of
    them declares is a mistake (CheckValuesError)."""
    declared = set()
    for path in paths:
        try:
            spec = front_end(Path(path).read_text(), path)
        except (OSError, UnicodeDecodeError, SpecError):
            continue  # reported when its turn comes
        declared |= {p.name for p in spec.params} | {x.name for x in spec.inputs}
    unknown = sorted(values.names() - declared)
    if unknown:
        raise CheckValuesError(f"{values.origin.get(unknown[0], unknown[0])}: none of the specs has a param "
                               f"or input '{unknown[0]}'")


def _check_spec(path: str, backend: str, values: CheckValues, strict: bool, number: int, out: TextIO) -> SpecResult:
    result = SpecResult(path)
    start = time.perf_counter()
    try:
        source = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        result.failures.append(f"cannot read the spec: {exc}")
        print(f"  FAIL cannot read {path}: {exc}", file=out)
        return result
    try:
        compiled = compile_source(source, path, backend)
    except SpecError as exc:
        result.failures.append("the spec does not compile")
        print(exc.render(), file=out)
        print(f"  FAIL {path}: the spec does not compile", file=out)
        return result
    spec = compiled.spec
    for warning in compiled.warnings:
        print(warning.format(source, path), file=out)
    tests = render_tests(spec, f"{spec.name}.py", f"test_{spec.name}.py", compiled.backend, values, strict)
    with tempfile.TemporaryDirectory(prefix="attncc-check-") as folder:
        write_atomic(Path(folder) / f"{spec.name}.py", compiled.code)
        write_atomic(Path(folder) / f"test_{spec.name}.py", tests)
        try:
            checks_module = import_file(Path(folder) / f"test_{spec.name}.py", f"_attncc_check_{number}_{spec.name}")
        except Exception as exc:  # the module itself fails to import: a failed check, not a crash
            result.failures.append(f"the generated module does not import: {type(exc).__name__}: {exc}")
            print(f"  FAIL {result.failures[-1]}", file=out)
            return result
        _print_setup(checks_module, spec.name, compiled.backend, out)
        for label, run in checks_module.checks():
            _run_check(checks_module, label, run, result, out)
        for reason in checks_module.skipped():
            print(f"  not checked: {reason}", file=out)
    result.seconds = time.perf_counter() - start
    result.passed = not result.failures
    verdict = "PASS" if result.passed else "FAIL"
    failed = f", {len(result.failures)} failed" if result.failures else ""
    print(f"  {verdict} {spec.name}: {result.tensors} tensors checked{failed} in {_duration(result.seconds)}",
          file=out, flush=True)
    return result


def _print_setup(checks_module, spec_name: str, backend: str, out: TextIO) -> None:
    device = checks_module.DEVICE
    if device == "cpu" and backend == "triton":
        device = "cpu (Triton interpreter)"
    dtypes = ", ".join(str(d).replace("torch.", "") for d in checks_module.DTYPES)
    print(f"  {spec_name}: {backend} backend on {device}; dtypes {dtypes}", file=out)
    params = ", ".join(f"{name}={value!r}" + (f" ({checks_module.PARAM_NOTES[name]})"
                                              if name in checks_module.PARAM_NOTES else "")
                       for name, value in checks_module.PARAMS.items())
    if params:
        print(f"  params: {params}", file=out)
    for case in checks_module.shapes():
        print(f"  shape {case.label()}", file=out)
    print("  ratio = error / (2 * ref error + 1e-5), golden: the reference in float64; a tensor passes "
          "when ratio <= 1", file=out)
    print("  " + _row(HEADER).rstrip(), file=out, flush=True)


def _run_check(checks_module, label: str, run, result: SpecResult, out: TextIO) -> None:
    start = time.perf_counter()
    try:
        rows = run()
    except Exception as exc:  # a crash inside the module under test fails this check
        rows = [checks_module.Row("(all)", math.inf, math.nan, False, f"raised {type(exc).__name__}: {exc}")]
    seconds = time.perf_counter() - start
    for position, row in enumerate(rows):
        result.tensors += 1
        if not row.ok:
            result.failures.append(f"{label}: {checks_module.describe_failure(row)}")
        cells = (label if position == 0 else "", row.tensor, _number(row.error), _number(row.ref_error),
                 _number(row.ratio, "{:.2f}"), "pass" if row.ok else "FAIL",
                 f"{seconds:.2f}s" if position == 0 else "")
        line = "  " + _row(cells)
        if row.note and not row.ok:
            line += f"  {row.note}"
        print(line.rstrip(), file=out, flush=True)


def _row(cells) -> str:
    return " ".join(str(cell).ljust(width) for cell, width in zip(cells, WIDTHS))


def _number(value: float, form: str = "{:.2e}") -> str:
    if math.isnan(value):
        return "-"
    return "inf" if math.isinf(value) else form.format(value)


def _duration(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds // 60)}m{seconds % 60:04.1f}s"
