"""Code generation: the analysed spec -> the source of a standalone Python module.

`torch_printer` and `triton_printer` print IR as code; `hoist` names loop invariants and shared
subexpressions once; `triton_softmax` and `triton_linear` build the Triton templates' context
from the facts (`triton_common` holds what both need); `render` builds the skeleton's context and
renders the Jinja templates. Lowering reads `symbolic.facts.SpecFacts` and never runs an analysis.

Imports: `symbolic` (its data types), `language`, `ir`, `runtime`, `resources`.
"""
