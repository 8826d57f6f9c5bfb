"""Golden files: the modules generated for examples/ are checked in (the torch reference for every
example, the triton module for every example, and the generated
checks, `attncc compile --tests`, for a few examples that exercise their choices).

A change to the generator that alters any of them fails here, so it shows up in review.
To accept an intended change, regenerate them:

    ATTNCC_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_golden.py

and commit tests/golden/ with the change that caused it.
"""

import os

import pytest

from attncc.driver.pipeline import compile_source
from attncc.checks.generate import render_tests
from conftest import EXAMPLES, ROOT

GOLDEN = ROOT / "tests" / "golden"
UPDATE = os.environ.get("ATTNCC_UPDATE_GOLDEN") == "1"
# Learnable reads and an int index, sorted ids (no N != M), linear attention, a learnable sink.
CHECKED = ("rpb1d", "document_causal", "based_linear", "softmax_sink")


def golden_path(example, backend):
    return GOLDEN / f"{example.stem}.{backend}.py.golden"


def cases():
    for example in EXAMPLES:
        yield example, "torch"
        yield example, "triton"
        if example.stem in CHECKED:
            yield example, "checks"


def generate(example, kind):
    """The module for backend `kind`, or for "checks" the generated test file of the default backend."""
    backend = "triton" if kind == "checks" else kind
    result = compile_source(example.read_text(), str(example.relative_to(ROOT)), backend)
    if kind == "checks":
        return render_tests(result.spec, f"{example.stem}.py", f"test_{example.stem}.py", result.backend)
    return result.code


@pytest.mark.parametrize("example,backend", list(cases()), ids=lambda x: getattr(x, "stem", x))
def test_generated_module_matches_golden(example, backend):
    code = generate(example, backend)
    path = golden_path(example, backend)
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(code)
    assert path.is_file(), f"no golden file for {example.name}; run with ATTNCC_UPDATE_GOLDEN=1 to create it"
    assert code == path.read_text(), (
        f"the generated module for {example.name} changed; if intended, regenerate with "
        "ATTNCC_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_golden.py"
    )


def test_no_stale_golden_files():
    names = {golden_path(e, backend).name for e, backend in cases()}
    stale = sorted(p.name for p in GOLDEN.glob("*.golden") if p.name not in names)
    assert not stale, f"golden files without an example: {stale}"


@pytest.mark.parametrize("example", EXAMPLES[:5], ids=lambda p: p.stem)
@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_generation_is_deterministic(example, backend):
    source = example.read_text()
    assert compile_source(source, "a.attn", backend).code == compile_source(source, "a.attn", backend).code
