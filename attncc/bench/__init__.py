"""`attncc bench`: attncc's kernels against SDPA and FlexAttention (docs/benchmarks.md).

`measure` (where it runs, the inputs, timing each pass), `report` (shapes, the FLOP convention,
peaks, the JSON schema and its validation, the table, the plot), `comparators` (SDPA and
FlexAttention built from the spec, or why they cannot express it), `command` (the options).

Imports: `checks` (values and samples), `driver` and the floors below it.
"""
