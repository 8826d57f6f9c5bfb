"""The benchmark's results: the shapes, the FLOP convention, peaks, the JSON document
("attncc-bench/1": its schema and validation), the text table and the plot.

Figures (TESTING.md's convention): forward FLOPs 2·B·H·N·M·(D + DV) (= 4·B·H·N·M·D when
D == DV), halved with --causal-flops; backward 2.5× forward, so fwd+bwd is 3.5× forward;
TFLOP/s = FLOPs / time; % of peak against `peak_tflops` (a small table by device name and
dtype, or --peak). measure.py measures and fills the document; docs/benchmarks.md
describes it for users.
"""

from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

SCHEMA = "attncc-bench/1"
IMPLS = ("attncc", "sdpa", "flex")
COMPARATORS = ("sdpa", "flex")
PASSES = ("fwd", "fwd+bwd")
DTYPE_NAMES = ("float16", "bfloat16", "float32")
# The short names attncc bench and attncc tune also take.
DTYPE_ALIASES = {"bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32"}
BACKWARD_FACTOR = 2.5  # backward FLOPs per forward FLOP (two matmuls for dq/dk plus dv, dp recompute)
PLOT_HINT = "pip install 'attncc[bench]'"


# (device name contains, dtypes, peak TFLOP/s, where the figure comes from); first match wins.
PEAKS = (
    ("H200", ("bfloat16", "float16"), 790.0,
     "H200 measured dense bf16 matmul peak (TESTING.md)"),
    ("H100", ("bfloat16", "float16"), 790.0,
     "taken as the H200's measured dense bf16 peak (same GH100 compute; TESTING.md); use --peak for a PCIe H100"),
    ("A100", ("bfloat16", "float16"), 312.0, "A100 datasheet dense bf16/fp16 tensor-core peak"),
    ("H200", ("float32",), 67.0, "H100/H200 SXM datasheet FP32 (non-tensor-core): attncc's fp32 dots are IEEE, not TF32"),
    ("H100", ("float32",), 67.0, "H100 SXM datasheet FP32 (non-tensor-core): attncc's fp32 dots are IEEE, not TF32"),
    ("A100", ("float32",), 19.5, "A100 datasheet FP32 (non-tensor-core): attncc's fp32 dots are IEEE, not TF32"),
)



@dataclass(frozen=True)
class Shape:
    """One benchmark shape: q [B, H, N, D], k [B, HKV, M, D], v [B, HKV, M, DV]."""

    B: int
    H: int
    N: int
    D: int
    M: int
    HKV: int
    DV: int

    def sizes(self) -> dict:
        """The size symbols of the spec language, by name."""
        return {"B": self.B, "H": self.H, "HKV": self.HKV, "N": self.N, "M": self.M, "D": self.D, "DV": self.DV}

    def as_json(self) -> dict:
        return {"B": self.B, "H": self.H, "HKV": self.HKV, "N": self.N, "M": self.M, "D": self.D, "DV": self.DV}


# ---------------------------------------------------------------- figures

def forward_flops(shape: Shape, causal: bool = False) -> float:
    """Forward FLOPs by TESTING.md's convention: 2·B·H·N·M·D for q·kᵀ plus 2·B·H·N·M·DV for
    p·v (= 4·B·H·N·M·D when D == DV), halved when `causal`."""
    flops = 2.0 * shape.B * shape.H * shape.N * shape.M * (shape.D + shape.DV)
    return flops / 2.0 if causal else flops


def pass_flops(shape: Shape, which: str, causal: bool = False) -> float:
    """FLOPs of one timed pass: `fwd` is the forward; `fwd+bwd` the forward plus a backward of
    BACKWARD_FACTOR (2.5) forwards, i.e. 3.5 forwards."""
    if which not in PASSES:
        raise ValueError(f"pass must be one of {PASSES}; got {which!r}")
    fwd = forward_flops(shape, causal)
    return fwd if which == "fwd" else fwd * (1.0 + BACKWARD_FACTOR)


def tflops_of(flops: float, ms: Optional[float]) -> Optional[float]:
    """TFLOP/s of `flops` done in `ms` milliseconds (None when there is no time)."""
    if ms is None or ms <= 0:
        return None
    return flops / (ms * 1e-3) / 1e12


def peak_tflops(device: str, dtype: str, override: Optional[float] = None) -> tuple[Optional[float], str]:
    """(peak TFLOP/s, where it comes from) for a device name and dtype name; (None, why) when
    the device is not in PEAKS and no --peak was given."""
    if override is not None:
        return float(override), "given with --peak"
    for name, dtypes, peak, source in PEAKS:
        if name.lower() in device.lower() and dtype in dtypes:
            return peak, source
    return None, f"unknown for {device} / {dtype}: give --peak TFLOPS for a % of peak"


def pct_of_peak(tflops: Optional[float], peak: Optional[float]) -> Optional[float]:
    """tflops as a percentage of peak (None when either is unknown)."""
    if tflops is None or not peak:
        return None
    return 100.0 * tflops / peak


# ---------------------------------------------------------------- the JSON document

TOP_KEYS = {
    "schema": str, "device": str, "interpreter": bool, "peak_tflops": (float, type(None)),
    "peak_source": str, "versions": dict, "date": str, "spec": dict, "dtype": str,
    "causal_flops": bool, "vs": list, "params": dict, "inputs": dict, "timing": str, "env": dict,
    "shapes": list, "rows": list, "flex_block_mask_ms": list, "tiles": list,
}
VERSION_KEYS = ("attncc", "torch", "triton", "python", "cuda")
SPEC_KEYS = ("name", "path", "hash")
SIZE_KEYS = ("B", "H", "HKV", "N", "M", "D", "DV")
ROW_KEYS = SIZE_KEYS + ("impl", "pass", "flops", "ms", "tflops", "pct_peak", "note")
BLOCK_MASK_KEYS = ("B", "H", "N", "M", "ms", "note")


def _number(value, allow_none: bool = True) -> bool:
    if value is None:
        return allow_none
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _row_problems(index: int, row, causal: bool) -> list[str]:
    """What is wrong with rows[index] (empty when nothing)."""
    where = f"rows[{index}]"
    if not isinstance(row, dict):
        return [f"{where} is not an object"]
    problems = []
    if set(row) != set(ROW_KEYS):
        missing, extra = sorted(set(ROW_KEYS) - set(row)), sorted(set(row) - set(ROW_KEYS))
        return [f"{where}: keys differ from the schema (missing {missing}, unknown {extra})"]
    problems += [f"{where}.{k} must be a positive int; got {row[k]!r}" for k in SIZE_KEYS if not _positive_int(row[k])]
    if row["impl"] not in IMPLS:
        problems.append(f"{where}.impl must be one of {IMPLS}; got {row['impl']!r}")
    if row["pass"] not in PASSES:
        problems.append(f"{where}.pass must be one of {PASSES}; got {row['pass']!r}")
    for key in ("ms", "tflops", "pct_peak"):
        if not _number(row[key]) or (row[key] is not None and row[key] < 0):
            problems.append(f"{where}.{key} must be a non-negative number or null; got {row[key]!r}")
    if not isinstance(row["note"], str):
        problems.append(f"{where}.note must be a string")
    if problems:
        return problems
    shape = Shape(row["B"], row["H"], row["N"], row["D"], row["M"], row["HKV"], row["DV"])
    if row["flops"] != pass_flops(shape, row["pass"], causal):
        problems.append(f"{where}.flops is {row['flops']}; the convention gives {pass_flops(shape, row['pass'], causal)}")
    if row["ms"] is None:
        if row["tflops"] is not None or row["pct_peak"] is not None:
            problems.append(f"{where}: no time (ms null) but tflops / pct_peak set")
        if not row["note"]:
            problems.append(f"{where}: no time (ms null) needs a note saying why")
    else:
        expected = tflops_of(row["flops"], row["ms"])
        if row["tflops"] is None or not math.isclose(row["tflops"], expected, rel_tol=1e-6):
            problems.append(f"{where}.tflops is {row['tflops']}; flops / ms gives {expected}")
    return problems


def result_problems(doc) -> list[str]:
    """Everything in `doc` that does not follow the "attncc-bench/1" schema (empty: valid)."""
    if not isinstance(doc, dict):
        return ["the document is not a JSON object"]
    problems = []
    missing, extra = sorted(set(TOP_KEYS) - set(doc)), sorted(set(doc) - set(TOP_KEYS))
    if missing or extra:
        problems.append(f"top-level keys differ from the schema (missing {missing}, unknown {extra})")
    for key, kind in TOP_KEYS.items():
        if key in doc and not (isinstance(doc[key], kind) and not (kind is not bool and isinstance(doc[key], bool))):
            problems.append(f"{key} has the wrong type: {type(doc[key]).__name__}")
    if problems:
        return problems
    if doc["schema"] != SCHEMA:
        problems.append(f"schema is {doc['schema']!r}, not {SCHEMA!r}")
    if sorted(doc["versions"]) != sorted(VERSION_KEYS):
        problems.append(f"versions must have exactly {list(VERSION_KEYS)}; got {sorted(doc['versions'])}")
    if sorted(doc["spec"]) != sorted(SPEC_KEYS) or not all(isinstance(v, str) for v in doc["spec"].values()):
        problems.append(f"spec must be {{{', '.join(SPEC_KEYS)}}} strings; got {doc['spec']!r}")
    try:
        datetime.datetime.fromisoformat(doc["date"])
    except ValueError:
        problems.append(f"date is not ISO 8601: {doc['date']!r}")
    if doc["dtype"] not in DTYPE_NAMES:
        problems.append(f"dtype must be one of {DTYPE_NAMES}; got {doc['dtype']!r}")
    if not set(doc["vs"]) <= set(COMPARATORS):
        problems.append(f"vs lists unknown comparators: {doc['vs']!r}")
    if doc["peak_tflops"] is not None and not doc["peak_tflops"] > 0:
        problems.append(f"peak_tflops must be positive or null; got {doc['peak_tflops']!r}")
    for i, shape in enumerate(doc["shapes"]):
        if not isinstance(shape, dict) or sorted(shape) != sorted(SIZE_KEYS) or \
                not all(_positive_int(v) for v in shape.values()):
            problems.append(f"shapes[{i}] must be {{{', '.join(SIZE_KEYS)}}} positive ints; got {shape!r}")
    for i, row in enumerate(doc["rows"]):
        problems += _row_problems(i, row, doc["causal_flops"])
    for i, entry in enumerate(doc["tiles"]):
        if not isinstance(entry, dict) or sorted(entry) != ["config", "key", "source"] \
                or not isinstance(entry["config"], dict) or not isinstance(entry["source"], str):
            problems.append(f"tiles[{i}] must be {{key, config, source}}; got {entry!r}")
    for i, entry in enumerate(doc["flex_block_mask_ms"]):
        if not isinstance(entry, dict) or sorted(entry) != sorted(BLOCK_MASK_KEYS) or not _number(entry["ms"]) \
                or not isinstance(entry["note"], str) or (entry["ms"] is None and not entry["note"]):
            problems.append(f"flex_block_mask_ms[{i}] must be {{{', '.join(BLOCK_MASK_KEYS)}}} with ms a number "
                            f"(or null with a note); got {entry!r}")
    return problems


def validate_result(doc) -> None:
    """Raise ValueError listing every way `doc` breaks the "attncc-bench/1" schema."""
    problems = result_problems(doc)
    if problems:
        raise ValueError("not an attncc-bench/1 document: " + "; ".join(problems))


# ---------------------------------------------------------------- report

def _cell(value: Optional[float], form: str, none: str) -> str:
    return none if value is None else form.format(value)


def format_table(doc: dict) -> str:
    """The rows as a text table; long notes become numbered footnotes."""
    notes: list[str] = []
    header = f"{'B':>3} {'N':>7} {'M':>7}  {'impl':<7}{'pass':<9}{'ms':>11}{'TFLOP/s':>10}{'% peak':>8}  note"
    lines = [header, "-" * len(header)]
    unknown_peak = doc["peak_tflops"] is None
    for row in doc["rows"]:
        mark = ""
        if row["note"]:
            if row["note"] not in notes:
                notes.append(row["note"])
            mark = f"[{notes.index(row['note']) + 1}]"
        pct = "-" if row["ms"] is None else ("?" if unknown_peak else _cell(row["pct_peak"], "{:.1f}", "?"))
        lines.append(f"{row['B']:>3} {row['N']:>7} {row['M']:>7}  {row['impl']:<7}{row['pass']:<9}"
                     f"{_cell(row['ms'], '{:.4g}', 'n/a'):>11}{_cell(row['tflops'], '{:.4g}', '-'):>10}{pct:>8}  {mark}")
    lines += [f"  [{i + 1}] {note}" for i, note in enumerate(notes)]
    for entry in doc["flex_block_mask_ms"]:
        lines.append(f"flex create_block_mask at B={entry['B']} N={entry['N']} M={entry['M']}: "
                     f"{_cell(entry['ms'], '{:.4g} ms', 'n/a')} ({entry['note']})")
    return "\n".join(lines)


def device_slug(device: str, interpreter: bool) -> str:
    """A file-name form of the device: "cpu-interpreter", or the GPU's name ("nvidia-h200")."""
    if interpreter:
        return "cpu-interpreter" if device.startswith("cpu") else "interpreter"
    return re.sub(r"[^a-z0-9]+", "-", device.lower()).strip("-") or "gpu"


def default_stem(doc: dict) -> str:
    """SPEC_DTYPE_D{D}_DEVICE: the default file name (without suffix) of the JSON and PNG."""
    dims = sorted({s["D"] for s in doc["shapes"]})
    return f"{doc['spec']['name']}_{doc['dtype']}_D{'-'.join(map(str, dims))}_{device_slug(doc['device'], doc['interpreter'])}"


def import_figure():
    """matplotlib's Figure class, or None when matplotlib is not installed. The object API is
    used (no pyplot), so no global backend is switched."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure


def plot_series(doc: dict) -> dict:
    """{(impl, pass): [(N, TFLOP/s), ...]} of the measured rows, N ascending."""
    series: dict = {}
    for row in doc["rows"]:
        if row["tflops"] is not None:
            series.setdefault((row["impl"], row["pass"]), []).append((row["N"], row["tflops"]))
    return {key: sorted(points) for key, points in series.items()}


def draw_panel(ax, doc: dict, title: str) -> None:
    """One plot of TFLOP/s against N (log2 axis), a line per impl and pass."""
    styles = {"attncc": "tab:blue", "sdpa": "tab:orange", "flex": "tab:green"}
    lengths = sorted({row["N"] for row in doc["rows"]})
    for (impl, which), points in plot_series(doc).items():
        xs, ys = zip(*points)
        ax.plot(xs, ys, marker="o" if which == "fwd" else "s", color=styles[impl], linestyle="-" if which == "fwd" else "--",
                label=f"{impl} {which}")
    if lengths:
        ax.set_xscale("log", base=2)
        ax.set_xticks(lengths)
        ax.set_xticklabels([str(n) for n in lengths])
    ax.set_xlabel("N (query length)")
    ax.set_ylabel("TFLOP/s" + (" (causal convention)" if doc["causal_flops"] else ""))
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


def write_plot(doc: dict, path: Path) -> Optional[str]:
    """Write the TFLOP/s-against-N plot of `doc` to `path` (PNG). Returns None when written, else
    why it was skipped (matplotlib missing, nothing measured)."""
    Figure = import_figure()
    if Figure is None:
        return f"plot skipped: matplotlib is not installed ({PLOT_HINT}, or pip install matplotlib)"
    if not plot_series(doc):
        return "plot skipped: no row has a time"
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot(1, 1, 1)
    dims = ", ".join(f"D={d}" for d in sorted({s["D"] for s in doc["shapes"]}))
    title = f"{doc['spec']['name']}: {doc['dtype']}, {dims}, {doc['device']}"
    if doc["interpreter"]:
        title += "\nCPU INTERPRETER: NOT kernel performance"
    draw_panel(ax, doc, title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return None
