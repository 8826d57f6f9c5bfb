"""`attncc.load`: compile a spec (cached by content hash) and import the generated module.

The cache lives in `$ATTNCC_CACHE_DIR`, else `$XDG_CACHE_HOME/attncc`, else `~/.cache/attncc`.
A module's file name is the hash of (spec text, backend, compiler fingerprint), so a changed
spec or a changed compiler never reuses a stale module. Files are written atomically.

What the cache trusts: nothing it finds. The spec is compiled on every first load in a process
(a fraction of a second; Triton's own compile dominates a first call), and the cached file is
imported only when its bytes are exactly what was just compiled; anything else there (a file
planted under the module's name, a truncated or emptied module) is replaced, with a warning.
The file is still what Triton reads the kernels' source from, and a stable path keeps Triton's
own kernel cache warm. A cache folder that other users may write to is refused, since they
could swap a module between the check and the import (docs/caching.md).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import stat
import sys
import types
import warnings
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
    folder = cache_dir()
    check_private(folder)
    path = folder / f"{backend}_{key}.py"
    code = compile_source(source, filename, backend).code
    found = _read_bytes(path)
    if found != code.encode("utf-8"):
        if found is not None:
            warnings.warn(f"attncc: the cached module {path} was not what this compiler writes for its spec "
                          f"({'empty' if not found else 'different content'}); it was rebuilt", stacklevel=2)
        write_atomic(path, code)
    module = import_file(path, f"attncc_generated_{key}")
    _LOADED[key] = module
    return module


class CacheFolderError(PermissionError):
    """attncc's cache folder could let another user's code run as the caller."""


def check_private(folder: Path) -> None:
    """Raise CacheFolderError when another user may write to `folder` (group- or world-writable,
    or owned by someone else): they could plant or swap a module that `load` then imports. A
    missing folder is created private to the user (0700). Nothing is checked where the system
    has no user ids."""
    if not hasattr(os, "getuid"):
        return
    try:
        info = folder.stat()
    except FileNotFoundError:
        os.makedirs(folder, mode=0o700, exist_ok=True)  # private whatever the umask (002 is common)
        info = folder.stat()
    uid = os.getuid()
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        why = "other users may write to it"
    elif info.st_uid != uid and uid != 0:
        why = "it belongs to another user"
    else:
        return
    raise CacheFolderError(
        f"attncc: refusing the cache folder {folder}: {why}, so they could plant code that runs as you; "
        f"make it yours alone (chown $USER {folder} && chmod go-w {folder}) or point ATTNCC_CACHE_DIR "
        "at a private folder")


def _read_bytes(path: Path):
    """The file's bytes, or None where there is none to read (then it is written anew)."""
    try:
        return path.read_bytes()
    except OSError:
        return None


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
