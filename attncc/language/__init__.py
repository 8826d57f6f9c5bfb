"""The front end: source text -> AST -> typed IR.

`parser` (lark, grammar/attn.lark) builds the AST of `syntax`; `elaborate` resolves names,
checks types and statement rules and removes sugar, giving an `ir.Spec` (expressions in
`elaborate_exprs`); `errors` holds the diagnostics and how they print; `formatting` prints IR
back as `.attn` text (messages, `attncc show`).

Imports: `ir`, `runtime` (the names a generated module already uses), `resources`.
"""
