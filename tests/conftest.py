"""Shared test set-up: a private attncc cache per test session, and the repository's paths."""

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.attn"))

# The triton backend's kernels run under Triton's interpreter here (no GPU): the switch must be
# set before triton is first imported.
os.environ.setdefault("TRITON_INTERPRET", "1")

# Compiled modules go to a fresh folder, never the user's. It is made once per run and shared by
# the pytest-xdist workers (they inherit the controller's environment, so the first import here,
# in the controller, decides it): a module one worker compiled, the other imports from the
# content-hash cache. The tuning cache is one file per process, so that no worker sees another's
# winners; nothing is tuned unless a test asks.
if "PYTEST_XDIST_WORKER" not in os.environ:
    os.environ["ATTNCC_CACHE_DIR"] = tempfile.mkdtemp(prefix="attncc-test-cache-")
os.environ["ATTNCC_TUNING_CACHE"] = os.path.join(
    os.environ["ATTNCC_CACHE_DIR"], f"tuning-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.json")
os.environ.pop("ATTNCC_AUTOTUNE", None)

# CI runs the property tests derandomized, so a green run is reproducible; developers' runs
# keep exploring new examples.
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
