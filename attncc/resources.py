"""Where the data folders (grammar/, templates/, backends/) are, in a checkout or a wheel.

In a checkout (and an editable install) they sit beside the `attncc` package; in a wheel they
are copied into `attncc/_data/` (see pyproject.toml). `data_dir(name)` returns whichever exists,
the installed copy first.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_FOLDERS = ("grammar", "templates", "backends")


def data_dir(name: str) -> Path:
    """The folder `name` (one of grammar, templates, backends); raises if neither copy exists."""
    if name not in _FOLDERS:
        raise KeyError(f"unknown data folder {name!r}; expected one of {_FOLDERS}")
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"attncc's {name}/ folder is missing: looked in {_PACKAGE / '_data'} and {_PACKAGE.parent}; "
        "reinstall attncc (pip install .)"
    )


@functools.lru_cache(maxsize=1)
def compiler_fingerprint() -> str:
    """A hash of the compiler's own code and data: a cached module is stale when it changes."""
    digest = hashlib.sha256()
    roots = [_PACKAGE] + [data_dir(name) for name in _FOLDERS]
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in {".py", ".lark", ".jinja"} and "_data" not in path.relative_to(root).parts[:1]:
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()
