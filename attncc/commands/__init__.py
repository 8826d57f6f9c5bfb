"""The command line (`cli`: compile, show, check, tune, bench, inspect), `attncc show` (`show`) and
`attncc tune` (`tune`: drives a module's own tuning path, `tune --show`, `compile --tuned`).

Imports: every other floor; nothing imports it but `attncc/__main__.py`.
"""
