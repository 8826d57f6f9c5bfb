"""Runtime: what a generated module carries or calls when it runs.

`schedule.py` (the tile-config space, resource estimates per GPU architecture, pruning, the
default, the tuning cache, atomic writes) is copied verbatim into every Triton module, so it
uses the standard library only and imports nothing of attncc. Every other floor may import it.

Imports: the standard library only.
"""
