"""Atomic file writes: a reader sees the old file or the whole new one, never a part.

The function lives in attncc/schedule.py, which every generated Triton module carries verbatim
(it writes the tuning cache with it); this is its name for the rest of attncc.
"""

from .schedule import write_atomic

__all__ = ["write_atomic"]
