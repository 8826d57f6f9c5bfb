"""The generated gradient checks (`attncc check`, `attncc compile --tests`).

`generate` chooses the checks' shapes and values from the IR and renders the test file; `values`
reads the user's values for them (`--check-values`, `--param`, `--input`); `samples` makes
params and inputs that respect their declarations (also for `show` and `bench`); `run` compiles,
runs the generated checks and prints the table.

Imports: `driver`, `codegen`, `symbolic`, `language`, `ir`, `runtime`, `resources`.
"""
