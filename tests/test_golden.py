"""Golden files: the torch reference modules generated for examples/ are checked in.

A change to the generator that alters any of them fails here, so it shows up in review.
To accept an intended change, regenerate them:

    ATTNCC_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_golden.py

and commit tests/golden/ with the change that caused it.
"""

import os

import pytest

from attncc.compiler import compile_source
from conftest import EXAMPLES, ROOT

GOLDEN = ROOT / "tests" / "golden"
UPDATE = os.environ.get("ATTNCC_UPDATE_GOLDEN") == "1"


def golden_path(example):
    return GOLDEN / f"{example.stem}.torch.py.golden"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_generated_module_matches_golden(example):
    code = compile_source(example.read_text(), str(example.relative_to(ROOT)), "torch").code
    path = golden_path(example)
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(code)
    assert path.is_file(), f"no golden file for {example.name}; run with ATTNCC_UPDATE_GOLDEN=1 to create it"
    assert code == path.read_text(), (
        f"the generated module for {example.name} changed; if intended, regenerate with "
        "ATTNCC_UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/test_golden.py"
    )


def test_no_stale_golden_files():
    names = {golden_path(e).name for e in EXAMPLES}
    stale = sorted(p.name for p in GOLDEN.glob("*.golden") if p.name not in names)
    assert not stale, f"golden files without an example: {stale}"


@pytest.mark.parametrize("example", EXAMPLES[:5], ids=lambda p: p.stem)
def test_generation_is_deterministic(example):
    source = example.read_text()
    assert compile_source(source, "a.attn", "torch").code == compile_source(source, "a.attn", "torch").code
