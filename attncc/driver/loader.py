"""`attncc.load`: compile a spec (cached by content hash) and import the generated module.

The cache lives in `$ATTNCC_CACHE_DIR`, else `$XDG_CACHE_HOME/attncc`, else `~/.cache/attncc`.
A module's file name is the hash of (spec text, backend, compiler fingerprint), so a changed
spec or a changed compiler never reuses a stale module. Files are written atomically.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import types
from pathlib import Path
from typing import Union

from ..runtime import schedule
from .pipeline import DEFAULT_BACKEND, compile_source
from ..resources import compiler_fingerprint
from ..runtime.schedule import write_atomic

_LOADED: dict[str, types.ModuleType] = {}


def cache_dir() -> Path:
    """The folder where compiled modules are kept (the rule is schedule.cache_dir's, which the
    tuning cache follows too)."""
    return Path(schedule.cache_dir())


def _read_spec(path_or_text: Union[str, os.PathLike]) -> tuple[str, str]:
    """(source, filename) from a path to a .attn file or from spec text itself."""
    if isinstance(path_or_text, os.PathLike):
        path = Path(path_or_text)
        return path.read_text(), str(path)
    text = str(path_or_text)
    looks_like_text = "\n" in text or text.lstrip().startswith("attention ")
    if not looks_like_text:
        path = Path(text)
        if not path.is_file():
            raise FileNotFoundError(f"attncc.load: no spec file {text!r} (pass a path to a .attn file or the spec text)")
        return path.read_text(), text
    return text, "<spec>"


def load(path_or_text: Union[str, os.PathLike], backend: str = DEFAULT_BACKEND) -> types.ModuleType:
    """The compiled module of a spec (a path or the text): `mod.attention(q, k, v, ...)`.

    Raises `attncc.SpecError` (its message is the printed diagnostics) for a bad spec.
    """
    source, filename = _read_spec(path_or_text)
    key = hashlib.sha256("\0".join([source, backend, compiler_fingerprint()]).encode()).hexdigest()[:32]
    if key in _LOADED:
        return _LOADED[key]
    path = cache_dir() / f"{backend}_{key}.py"
    if not path.is_file():
        result = compile_source(source, filename, backend)
        write_atomic(path, result.code)
    module = import_file(path, f"attncc_generated_{key}")
    _LOADED[key] = module
    return module


def import_file(path: Path, name: str) -> types.ModuleType:
    """Import the Python file `path` as module `name` (registered in sys.modules, removed again if
    it fails)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _import_source(code: str, name: str) -> types.ModuleType:
    """Import generated code without writing it anywhere (used by `show`)."""
    module = types.ModuleType(name)
    module.__file__ = f"<{name}>"
    exec(compile(code, module.__file__, "exec"), module.__dict__)
    return module
