"""PreprocessCache: keys, build-once, corrupt entries rebuilt, atomic writes, CLI, worker threads."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from mewb.data import cache as cache_mod
from mewb.data.cache import PreprocessCache, default_root


@pytest.fixture
def sources(tmp_path):
    paths = []
    for i in range(2):
        p = tmp_path / f"src{i}.bin"
        p.write_bytes(bytes([i]) * 100)
        paths.append(p)
    return paths


@pytest.fixture
def cache(tmp_path):
    return PreprocessCache(tmp_path / "cache")


def _arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "frames": rng.integers(0, 255, (4, 16, 16), dtype=np.uint8),
        "flow": rng.standard_normal((3, 3, 16, 16)).astype(np.float32),
    }


class Builder:
    def __init__(self, seed: int = 0):
        self.calls = 0
        self.seed = seed

    def __call__(self):
        self.calls += 1
        return _arrays(self.seed)


# Keys ---------------------------------------------------------------------------------------


def test_key_depends_on_sources_and_config(cache, sources):
    config = {"size": 112, "evm": {"alpha": 4.0}, "flow": "tvl1"}
    key = cache.key(sources, config)
    assert len(key) == 64 and key == cache.key([str(s) for s in sources], dict(reversed(config.items())))
    assert cache.key(sources, {**config, "flow": "dis"}) != key
    assert cache.key(sources[::-1], config) != key  # frame order matters
    assert cache.key(sources[:1], config) != key
    os.utime(sources[0], ns=(1_000_000_000, 1_000_000_000))  # touched: new mtime
    touched = cache.key(sources, config)
    assert touched != key
    sources[1].write_bytes(b"x" * 101)  # different size
    assert cache.key(sources, config) != touched


def test_version_bump_changes_the_key(cache, sources, monkeypatch):
    before = cache.key(sources, {"a": 1})
    monkeypatch.setattr(cache_mod, "PREPROCESS_VERSION", cache_mod.PREPROCESS_VERSION + 1)
    assert cache.key(sources, {"a": 1}) != before


def test_key_rejects_bad_input(cache, sources, tmp_path):
    with pytest.raises(ValueError, match="JSON-able"):
        cache.key(sources, {"path": Path("x")})
    with pytest.raises(ValueError, match="JSON-able"):
        cache.key(sources, {"x": float("nan")})
    with pytest.raises(FileNotFoundError, match="missing.bin"):
        cache.key([tmp_path / "missing.bin"], {})
    with pytest.raises(ValueError, match="not a cache key"):
        cache.get("../../etc/passwd")


# Build once, read back ----------------------------------------------------------------------


def test_get_or_build_builds_once_and_round_trips(cache, sources):
    key = cache.key(sources, {"a": 1})
    build = Builder()
    first = cache.get_or_build(key, build)
    second = cache.get_or_build(key, build)
    assert build.calls == 1
    expected = _arrays()
    assert set(second) == set(expected)
    for name in expected:
        assert second[name].dtype == expected[name].dtype
        np.testing.assert_array_equal(second[name], expected[name])
        np.testing.assert_array_equal(first[name], expected[name])
    # A fresh cache object on the same root sees the entry (it is on disk, not in memory).
    assert PreprocessCache(cache.root).get(key) is not None


def test_failed_build_writes_nothing(cache, sources):
    key = cache.key(sources, {})

    def broken():
        raise RuntimeError("face not found")

    with pytest.raises(RuntimeError, match="face not found"):
        cache.get_or_build(key, broken)
    assert cache.info()["entries"] == 0
    with pytest.raises(ValueError, match="dict"):
        cache.get_or_build(key, lambda: [np.zeros(3)])
    with pytest.raises(ValueError, match="object"):
        cache.get_or_build(key, lambda: {"x": np.array([None, 1], dtype=object)})
    assert cache.info()["entries"] == 0


# Corrupt entries ----------------------------------------------------------------------------


def _corrupt_truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _corrupt_flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _corrupt_garbage(path: Path) -> None:
    path.write_bytes(b"not a zip file at all")


def _corrupt_empty(path: Path) -> None:
    path.write_bytes(b"")


def _corrupt_array_keep_zip_valid(path: Path) -> None:
    """Valid npz, original metadata, one value changed: only our own checksum can catch it."""
    with np.load(path) as npz:
        arrays = {name: npz[name].copy() for name in npz.files}
    arrays["flow"].flat[0] += 1.0
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _corrupt_no_metadata(path: Path) -> None:
    with open(path, "wb") as f:
        np.savez(f, **_arrays())


@pytest.mark.parametrize(
    "corrupt",
    [_corrupt_truncate, _corrupt_flip_byte, _corrupt_garbage, _corrupt_empty, _corrupt_array_keep_zip_valid, _corrupt_no_metadata],
)
def test_corrupt_entry_is_rebuilt_not_trusted(cache, sources, corrupt):
    key = cache.key(sources, {"a": 1})
    build = Builder()
    cache.get_or_build(key, build)
    corrupt(cache.path(key))
    again = cache.get_or_build(key, build)
    assert build.calls == 2
    np.testing.assert_array_equal(again["flow"], _arrays()["flow"])
    assert cache.get(key) is not None  # the rebuilt entry is good
    assert build.calls == 2


# Atomic writes ------------------------------------------------------------------------------


def test_interrupted_write_leaves_no_entry_and_no_temp_file(cache, sources, monkeypatch):
    key = cache.key(sources, {})
    real_savez = np.savez

    def dies_halfway(f, **arrays):
        real_savez(f, **{k: v for k, v in list(arrays.items())[:1]})  # some bytes hit the disk
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_mod.np, "savez", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        cache.put(key, _arrays())
    monkeypatch.setattr(cache_mod.np, "savez", real_savez)
    assert not cache.path(key).exists()
    assert not [p for p in cache.root.rglob("*") if p.is_file()]  # no entry, no temporary file


def test_overwrite_replaces_the_whole_entry(cache, sources):
    key = cache.key(sources, {})
    cache.put(key, _arrays(0))
    cache.put(key, {"only": np.arange(3)})
    assert set(cache.get(key)) == {"only"}
    assert not list(cache.root.rglob("*.tmp"))


# Housekeeping -------------------------------------------------------------------------------


def test_info_and_clear_touch_only_entries(cache, sources):
    assert cache.info() == {"root": str(cache.root), "entries": 0, "bytes": 0}
    keys = [cache.key(sources, {"i": i}) for i in range(3)]
    for k in keys:
        cache.get_or_build(k, Builder())
    info = cache.info()
    assert info["entries"] == 3 and info["bytes"] == sum(cache.path(k).stat().st_size for k in keys)
    keep = cache.root / "README.txt"
    keep.write_text("not an entry")
    assert cache.clear() == 3
    assert cache.info()["entries"] == 0 and keep.exists()
    assert all(cache.get(k) is None for k in keys)


def test_default_root(monkeypatch, tmp_path):
    monkeypatch.setenv("MEWB_CACHE", str(tmp_path / "env-cache"))
    assert PreprocessCache().root == tmp_path / "env-cache" == default_root()
    monkeypatch.delenv("MEWB_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert PreprocessCache().root == tmp_path / "home" / ".cache" / "mewb"


def test_cli_cache_info_and_clear(cache, sources, capsys):
    from mewb.cli import main

    cache.get_or_build(cache.key(sources, {}), Builder())
    assert main(["cache", "info", "--cache-dir", str(cache.root)]) == 0
    out = capsys.readouterr().out
    assert str(cache.root) in out and "1 entries" in out
    assert main(["cache", "clear", "--cache-dir", str(cache.root)]) == 0
    assert "removed 1 entries" in capsys.readouterr().out
    assert cache.info()["entries"] == 0


# DataLoader workers -------------------------------------------------------------------------


class _ThreadReport:
    """A dataset whose items are the thread counts seen inside the worker process."""

    def __len__(self):
        return 2

    def __getitem__(self, i):
        import cv2
        import torch

        return torch.tensor([cv2.getNumThreads(), torch.get_num_threads()])


def test_configure_worker_threads_limits_opencv_and_torch():
    import cv2
    import torch

    from mewb.device import configure_worker_threads

    cv_before, torch_before = cv2.getNumThreads(), torch.get_num_threads()
    try:
        cv2.setNumThreads(4)
        torch.set_num_threads(2)
        configure_worker_threads(0)
        assert cv2.getNumThreads() == 1 and torch.get_num_threads() == 1
    finally:
        cv2.setNumThreads(cv_before)
        torch.set_num_threads(torch_before)


def test_dataloader_workers_run_single_threaded():
    import torch
    from torch.utils.data import DataLoader

    from mewb.device import configure_worker_threads

    loader = DataLoader(_ThreadReport(), batch_size=None, num_workers=1, worker_init_fn=configure_worker_threads)
    counts = torch.stack(list(loader))
    assert counts.tolist() == [[1, 1], [1, 1]]


def test_atomic_write_interrupted_at_replace_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch):
    import mewb.atomic as atomic

    target = tmp_path / "sub" / "metrics.json"
    atomic.atomic_write(target, "old")

    def dies(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "replace", dies)
    with pytest.raises(KeyboardInterrupt):
        atomic.atomic_write(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in target.parent.iterdir()] == ["metrics.json"]
