"""The symbolic middle: analyses of an elaborated spec, each a pure function of IR.

`simplify` (IR <-> sympy, canonical simplification; sympy stays inside this folder, with the
language's functions in `sympy_functions`), `derive` (d score/ds, d score/d input, d feature/dx),
`bounds` (proofs that input reads stay in bounds), `intervals` and `tiles` (per-tile empty / full
tests and closed-form loop ranges, as IR; `tile_proofs` what the ranges imply), `tile_counts`
(those facts evaluated in Python), `base2` (the softmax kernels' base-2 forms), and `facts` (the
frozen value the driver hands to code generation: every analysis's result).

Imports: `language`, `ir`, `runtime`, `resources`.
"""
