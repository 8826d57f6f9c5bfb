"""The IR: frozen dataclasses for an elaborated, typed spec (`nodes`), re-exported here so that
`from .. import ir` then `ir.Spec` reads as one name; the type of each operator application
(`typing_rules`); and the language's meaning on Python scalars (`constfold`).

Imports: nothing of attncc (the bottom floor besides `runtime`).
"""

from .nodes import *  # noqa: F401,F403  (nodes.__all__)
