"""Shared test set-up: a private attncc cache per test session, and the repository's paths."""

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.attn"))

# Compiled modules go to a fresh folder, never the user's cache.
os.environ["ATTNCC_CACHE_DIR"] = tempfile.mkdtemp(prefix="attncc-test-cache-")
