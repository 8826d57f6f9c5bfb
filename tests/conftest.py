"""Shared test set-up: a private attncc cache per test session, and the repository's paths."""

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.attn"))

# The triton backend's kernels run under Triton's interpreter here (no GPU): the switch must be
# set before triton is first imported.
os.environ.setdefault("TRITON_INTERPRET", "1")

# Compiled modules and the tuning cache go to a fresh folder, never the user's; nothing is
# tuned unless a test asks.
os.environ["ATTNCC_CACHE_DIR"] = tempfile.mkdtemp(prefix="attncc-test-cache-")
os.environ.pop("ATTNCC_TUNING_CACHE", None)
os.environ.pop("ATTNCC_AUTOTUNE", None)

# CI runs the property tests derandomized, so a green run is reproducible; developers' runs
# keep exploring new examples.
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
