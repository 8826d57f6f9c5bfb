"""Diagnostics: spec errors and warnings, and how they are printed.

Every user-facing problem with a spec is a `Diagnostic` with a 1-based line and column. The
front end collects them; `SpecError` carries all of a file's errors at once. `format` renders
one as DSL.md asks: `FILE:LINE:COL: error: MESSAGE`, the source line, a caret under the
column, and a `hint:` line where there is a fix to suggest.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable, Sequence


@dataclass(frozen=True)
class Diagnostic:
    line: int
    col: int
    message: str
    hint: str | None = None
    severity: str = "error"  # "error" | "warning"

    def format(self, source: str, filename: str) -> str:
        """The diagnostic as printed to the user, with the source line and a caret."""
        lines = source.split("\n")  # the parser counts lines at '\n' only
        head = f"{filename}:{self.line}:{self.col}: {self.severity}: {self.message}"
        out = [head]
        if 1 <= self.line <= len(lines):
            text = lines[self.line - 1].rstrip("\r")
            # Keep tabs in the caret line so the caret stays under the column.
            pad = "".join(ch if ch == "\t" else " " for ch in text[: max(self.col - 1, 0)])
            out += [f"    {text}", f"    {pad}^"]
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return "\n".join(out)


class SpecError(Exception):
    """A spec that cannot be compiled; holds every error found, in source order."""

    def __init__(self, diagnostics: Sequence[Diagnostic], source: str, filename: str):
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.line, d.col))
        self.source = source
        self.filename = filename
        super().__init__(self.render())

    def render(self) -> str:
        text = "\n".join(d.format(self.source, self.filename) for d in self.diagnostics)
        count = len(self.diagnostics)
        if count > 1:
            text += f"\n{count} errors"
        return text


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to `name`, or None when nothing is close."""
    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return matches[0] if matches else None
