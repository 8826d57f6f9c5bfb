"""The driver: runs the pipeline once per spec, each pass once and in order (`pipeline`:
parse, elaborate, simplify, bounds, derive, tiles, render), and `attncc.load` (`loader`: a cache
of generated modules keyed by content hash, and their import).

Imports: `codegen`, `symbolic`, `language`, `ir`, `runtime`, `resources`.
"""
