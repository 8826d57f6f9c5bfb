"""Lower and render: an analysed spec (symbolic.facts.SpecFacts) -> a standalone Python module.

Before: the driver's facts of one spec (for the torch backend, the spec as elaborated, used as
written: the reference must mean exactly what the user wrote, so it does not go through the
symbolic passes it is meant to test; for triton, the simplified spec and its facts). After: Python source, byte-identical for the same spec and compiler version. The
templates (templates/module.py.jinja, the skeleton with argument checks and the public API;
backends/<backend>/*.jinja, the computation) hold structure only: every decision is made here
and passed in the context.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Mapping, Optional

import jinja2

from .. import ir
from .._version import __version__
from ..ir.constfold import is_causal_mask
from ..language.formatting import format_expr
from ..resources import data_dir
from ..runtime import schedule
from ..symbolic.facts import SpecFacts
from .torch_printer import ScalarPrinter, TorchPrinter, python_literal
from .triton_linear import linear_context
from .triton_softmax import softmax_context

BACKEND_TEMPLATES = {"torch": "torch/reference.py.jinja", "triton": "triton/module.py.jinja"}


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja environment: both template folders, StrictUndefined, `pyrepr` for literals."""
    loader = jinja2.ChoiceLoader([
        jinja2.FileSystemLoader(str(data_dir("templates"))),
        jinja2.FileSystemLoader(str(data_dir("backends"))),
    ])
    env = jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False)
    env.filters["pyrepr"] = repr  # strings, tuples, dicts: a Python literal, never spliced raw
    env.filters["pyliteral"] = python_literal  # int / float / bool / None, with inf as math.inf
    env.filters["comment"] = comment_text  # user text (a path) inside a `#` comment
    return env


def comment_text(text: str) -> str:
    """`text` as it may stand in a one-line `#` comment: itself when every character is
    printable, else its escaped form (a newline or another line break in a path given on the
    command line must never end the comment and start code)."""
    return text if text.isprintable() else ascii(text)


def dims_text(dims: tuple) -> str:
    return ", ".join(format_expr(d) for d in dims)


def keyword_doc(spec: ir.Spec) -> str:
    """One line describing the params and inputs, for the generated function's docstring."""
    parts = []
    for p in spec.params:
        default = "" if p.default is None else f", default {python_literal(p.default)}"
        parts.append(f"param {p.name} ({p.type}{default})")
    for x in spec.inputs:
        flags = "".join(f", {flag}" for flag in ("learnable", "sorted") if getattr(x, flag))
        parts.append(f"input {x.name}[{dims_text(x.dims)}] ({x.dtype}{flags})")
    return "; ".join(parts)


def expression_names(spec: ir.Spec) -> tuple[str, ...]:
    """The names the `_*_in` functions unpack: symbols, sizes, params, inputs, the casts."""
    return ("i", "j", "b", "h") + ir.SIZE_SYMBOLS + tuple(p.name for p in spec.params) \
        + tuple(x.name for x in spec.inputs) + ("_f", "_t")


def state_context(spec: ir.Spec) -> dict:
    """The recurrent state of causal linear attention (skeleton and torch reference): whether the
    spec has one, and its last two dims [F, DV (+ 1)] as code of D and DV."""
    return {
        "causal_linear": spec.is_linear and is_causal_mask(spec.mask),
        # F: the width of a feature row (taylor2 widens D to 1 + D + D^2).
        "state_features": ("1 + D + D * D" if spec.is_taylor2 else "D") if spec.is_linear else "",
        # norm = sum carries the normalizer in a trailing column.
        "state_dims": "DV + 1" if spec.norm.kind == "sum" else "DV",
    }


def torch_context(spec: ir.Spec) -> dict:
    printer = TorchPrinter()
    family = "linear" if spec.is_linear else "softmax"
    context = {
        "names": expression_names(spec),
        "mask_code": printer(spec.mask),
        "family": family,
        "norm_kind": spec.norm.kind,
    }
    if spec.is_linear:
        feature = spec.feature.args[0] if spec.is_taylor2 else spec.feature
        context.update(feature_code=printer(feature), taylor2=spec.is_taylor2,
                       decay_code=printer(spec.decay) if spec.decay is not None else "", **state_context(spec))
    else:
        context.update(score_code=printer(spec.score), scale_code=printer(spec.scale),
                       sink_code=printer(spec.norm.sink) if spec.norm.sink is not None else "")
    return context


def module_context(spec: ir.Spec, backend: str) -> dict:
    """What templates/module.py.jinja needs: names, params, inputs and their checks."""
    scalar = ScalarPrinter()
    family = "linear" if spec.is_linear else "softmax"
    return {
        "version": __version__,
        "backend": backend,
        "backend_template": BACKEND_TEMPLATES[backend],
        "spec_name": spec.name,
        "spec_doc": spec.doc or "",
        "spec_hash": spec.source_hash,
        "family": family,
        "norm_kind": spec.norm.kind,
        "keyword_doc": keyword_doc(spec),
        "lse_available": not spec.is_linear and spec.norm.kind == "softmax",
        **state_context(spec),
        "tile": dict(spec.tile.options),
        "kernel_options_example": ('{"chunk": 64}' if spec.is_linear
                                   else '{"block_m": 64, "block_n": 32, "warps": 4, "stages": 2}'),
        "params": [{"name": p.name, "type": p.type, "default": p.default} for p in spec.params],
        "inputs": [
            {
                "name": x.name, "dtype": x.dtype, "kind": x.type, "learnable": x.learnable,
                "sorted": x.sorted, "dims_text": dims_text(x.dims),
                "dims_code": [scalar(d) for d in x.dims],
            }
            for x in spec.inputs
        ],
    }


@functools.lru_cache(maxsize=1)
def schedule_source() -> str:
    """runtime/schedule.py's text: every Triton module carries it verbatim."""
    return Path(schedule.__file__).read_text().rstrip("\n")


def render(facts: SpecFacts, backend: str = "torch", tuned: Optional[Mapping[str, dict]] = None) -> str:
    """The generated module's source for the analysed spec on `backend`; `tuned` (triton
    backend): tile configs to compile in, by cache key without its triton version (see
    attncc/commands/tune.py). The torch reference renders `facts.spec` as written."""
    if backend not in BACKEND_TEMPLATES:
        raise ValueError(f"unknown backend {backend!r}; expected one of {sorted(BACKEND_TEMPLATES)}")
    spec = facts.spec
    context = module_context(spec, backend)
    if backend == "torch":
        context.update(torch_context(spec))
    else:
        lowered = linear_context(facts) if spec.is_linear else softmax_context(facts)
        context.update(lowered, schedule_code=schedule_source(),
                       tuned={key: dict(tuned[key]) for key in sorted(tuned or {})})
    return environment().get_template("module.py.jinja").render(**context)
