"""What attncc's caches trust (issue 14, class 2; docs/caching.md): a cache may cost a recompile
or a warning, never a wrong answer, a crash or someone else's code."""

import os
import stat

import pytest
import torch

from attncc.driver import loader
from attncc.driver.pipeline import compile_source
from attncc.runtime import schedule
from conftest import ROOT

SPEC = (ROOT / "examples" / "causal.attn").read_text()


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """An empty private cache folder, and a loader that has imported nothing yet."""
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    folder.chmod(0o700)
    monkeypatch.setenv("ATTNCC_CACHE_DIR", str(folder))
    monkeypatch.setattr(loader, "_LOADED", {})
    return folder


def _qkv():
    g = torch.Generator().manual_seed(0)
    return [torch.randn(1, 2, 20, 16, generator=g) for _ in range(3)]


def _cached_module(folder):
    (path,) = folder.glob("triton_*.py")
    return path


def _reload(monkeypatch):
    monkeypatch.setattr(loader, "_LOADED", {})  # a new process: nothing imported yet
    return loader.load(SPEC, backend="triton")


def test_a_planted_module_is_replaced_not_run(private_cache, monkeypatch, tmp_path):
    want = loader.load(SPEC, backend="triton").attention(*_qkv())
    path = _cached_module(private_cache)
    marker = tmp_path / "planted-code-ran"
    planted = (f"open({str(marker)!r}, 'w').write('x')\n"
               "def attention(q, k, v, **kw):\n    return q * 0\n")
    for content in (planted, path.read_text() + f"\nopen({str(marker)!r}, 'w').write('x')\n"):
        path.write_text(content)
        with pytest.warns(UserWarning, match="was not what this compiler writes"):
            module = _reload(monkeypatch)
        assert not marker.exists()
        assert torch.equal(module.attention(*_qkv()), want)
        assert path.read_text() == compile_source(SPEC, "<spec>", "triton").code


@pytest.mark.parametrize("damage", ["truncated", "emptied", "bytes"])
def test_a_corrupt_module_is_rebuilt(private_cache, monkeypatch, damage):
    want = loader.load(SPEC, backend="triton").attention(*_qkv())
    path = _cached_module(private_cache)
    text = path.read_text()
    if damage == "truncated":
        path.write_text(text[: len(text) // 2])
    elif damage == "emptied":
        path.write_text("")
    else:
        path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.warns(UserWarning, match=r"\(empty\)" if damage == "emptied" else r"\(different content\)"):
        module = _reload(monkeypatch)
    assert torch.equal(module.attention(*_qkv()), want)


def test_an_intact_module_loads_without_a_word(private_cache, monkeypatch, recwarn):
    loader.load(SPEC, backend="triton")
    _reload(monkeypatch)
    assert not [w for w in recwarn if "attncc" in str(w.message)]


@pytest.mark.parametrize("mode,why", [(0o777, "other users may write to it"), (0o775, "other users may write to it"),
                                      (0o1777, "other users may write to it")])
def test_a_cache_folder_others_can_write_to_is_refused(private_cache, monkeypatch, mode, why):
    private_cache.chmod(mode)
    with pytest.raises(loader.CacheFolderError) as info:
        loader.load(SPEC, backend="triton")
    message = str(info.value)
    assert f"refusing the cache folder {private_cache}: {why}" in message
    assert f"chmod go-w {private_cache}" in message and "ATTNCC_CACHE_DIR" in message
    assert not list(private_cache.glob("triton_*.py"))  # nothing written there, nothing imported
    private_cache.chmod(0o755)  # writable by its owner alone: fine
    loader.load(SPEC, backend="triton")


def test_a_missing_cache_folder_is_created_private_whatever_the_umask(tmp_path, monkeypatch):
    folder = tmp_path / "new" / "attncc"
    monkeypatch.setenv("ATTNCC_CACHE_DIR", str(folder))
    monkeypatch.setattr(loader, "_LOADED", {})
    old = os.umask(0o002)  # user-private groups: group-writable by default
    try:
        loader.load(SPEC, backend="triton")
        schedule.store_entries(str(tmp_path / "tuned" / "tuning.json"), {})
    finally:
        os.umask(old)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "tuned").stat().st_mode) == 0o700


def test_a_cache_folder_of_another_user_is_refused(private_cache, monkeypatch):
    owner = private_cache.stat().st_uid
    monkeypatch.setattr(loader.os, "getuid", lambda: owner + 1000)
    with pytest.raises(loader.CacheFolderError, match="it belongs to another user"):
        loader.load(SPEC, backend="triton")


BAD_CONFIGS = [
    {"block_m": -32, "block_n": 32, "warps": 4, "stages": 1},
    {"block_m": 17, "block_n": 32, "warps": 4, "stages": 1},
    {"block_m": 2 ** 20, "block_n": 32, "warps": 4, "stages": 1},
    {"block_m": 0, "block_n": 32, "warps": 4, "stages": 1},
    {"block_m": "32", "block_n": 32, "warps": 4, "stages": 1},
    {"block_m": 32, "block_n": 32, "warps": 3, "stages": 1},
    {"block_m": 32, "block_n": 32, "warps": 4, "stages": 0},
    {"block_m": 32.0, "block_n": 32, "warps": 4, "stages": 1},
    {"block_m": True, "block_n": 32, "warps": 4, "stages": 1},
    {"block_m": 32, "block_n": 32, "warps": 4},
    {"chunk": 32, "warps": 4},
]


@pytest.mark.parametrize("config", BAD_CONFIGS, ids=[str(c) for c in BAD_CONFIGS])
def test_every_tuning_entry_is_checked_against_the_schedules_rules(private_cache, monkeypatch, tmp_path, config):
    import triton

    tuning = tmp_path / "tuning.json"
    monkeypatch.setenv("ATTNCC_TUNING_CACHE", str(tuning))
    module = loader.load(SPEC, backend="triton")
    q, k, v = (t.double() for t in _qkv())
    key = schedule.cache_key(module.SPEC_HASH, "forward", "interpreter", "float64", 16, 16, 20, 20, triton.__version__)
    schedule.store_entries(str(tuning), {key: schedule.entry(config, 1.0, "causal", [1] * 7, 3)})
    with pytest.warns(RuntimeWarning, match=f"tuning cache entry {key.replace('|', '[|]')}: .*; it is ignored"):
        o = module.attention(q, k, v)
    assert module.chosen_tiles()[key] == (schedule.INTERPRETER_CONFIG["softmax"], "default")
    reference = loader.load(SPEC, backend="torch").attention(q, k, v)
    assert torch.allclose(o, reference, atol=1e-10)


def test_config_problem_names_the_rule():
    assert schedule.config_problem("softmax", {"block_m": 64, "block_n": 64, "warps": 4, "stages": 2}) is None
    assert schedule.config_problem("softmax", {"block_m": 48, "block_n": 64, "warps": 4, "stages": 2}) == \
        "tile 'block_m' must be a power of two, at least 16 and at most 1024; got 48"
    assert schedule.config_problem("linear", ["chunk", 64]) == "a config must be a dict of tile names; got list"
