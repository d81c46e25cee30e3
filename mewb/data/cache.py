"""On-disk cache of preprocessed arrays (cropped frames, magnified frames, flows).

An entry is a dict of name -> ``np.ndarray`` stored as one ``.npz`` file, keyed by a SHA-256
of three things: the identity of the source files (resolved path, size, ``mtime_ns``), the
preprocessing config (any JSON-able dict) and ``PREPROCESS_VERSION``. Touching a source file,
changing a setting, or bumping the version (do so whenever preprocessing code changes what it
produces) gives a new key; stale entries are simply never read again (``mewb cache clear``).

Safety:

- Writes are atomic: a temporary file in the same folder, flushed and fsynced, then
  ``os.replace``; readers never see half a file, and concurrent builders of one key (two
  DataLoader workers) both succeed.
- Every entry stores the key it was written for and a CRC-32 of its arrays (names, dtypes,
  shapes, bytes). An entry that fails to load or to verify (truncated, corrupted, or a valid
  entry of another clip copied over it) is deleted and rebuilt, never trusted.
- Arrays are loaded with ``allow_pickle=False``; object arrays are refused on write.

Location: ``PreprocessCache(root)``, else ``$MEWB_CACHE``, else ``~/.cache/mewb``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import zlib
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from mewb.atomic import atomic_write

PREPROCESS_VERSION = 2  # 2: every entry records the key it was written for
CACHE_ENV = "MEWB_CACHE"

_META = "__mewb_meta__"
_ENTRY_RE = re.compile(r"^[0-9a-f]{64}\.npz$")
log = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]


def default_root() -> Path:
    """``$MEWB_CACHE`` if set, else ``~/.cache/mewb``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mewb"


def source_identity(path: str | os.PathLike) -> list:
    """[resolved path, size in bytes, mtime in ns] of an existing file."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise FileNotFoundError(f"cache source not found: {p}") from None
    return [str(p.resolve()), st.st_size, st.st_mtime_ns]


def _digest(arrays: Arrays) -> str:
    """CRC-32 over names, dtypes, shapes and bytes: it guards against damage, not tampering,
    and is ~4x faster than a cryptographic hash, which keeps warm reads cheap."""
    crc = 0
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        crc = zlib.crc32(json.dumps([name, a.dtype.str, list(a.shape)]).encode(), crc)
        crc = zlib.crc32(a.data, crc)  # zero-copy view of the bytes
    return f"{crc:08x}"


class CorruptEntry(Exception):
    """An entry on disk that cannot be trusted (it will be rebuilt)."""


class PreprocessCache:
    """``cache.get_or_build(cache.key(sources, config), build)``; see the module docstring."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_root()
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"{self.root}: the cache folder exists and is not a directory; choose another cache folder")

    def __repr__(self) -> str:
        return f"PreprocessCache({str(self.root)!r})"

    # Keys
    def key(self, sources: Iterable[str | os.PathLike], config: dict) -> str:
        """64-hex key from the sources' identity (in order), the config and the version."""
        payload = {
            "version": PREPROCESS_VERSION,
            "sources": [source_identity(s) for s in sources],
            "config": config,
        }
        try:
            text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValueError(f"cache config must be JSON-able (str, numbers, lists, dicts): {error}") from None
        return hashlib.sha256(text.encode()).hexdigest()

    def path(self, key: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", key):
            raise ValueError(f"not a cache key (64 lowercase hex characters): {key!r}")
        return self.root / key[:2] / f"{key}.npz"

    # Reading and writing
    def _load(self, path: Path, key: str) -> Arrays:
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except Exception as error:  # zipfile.BadZipFile, EOFError, ValueError, OSError, zlib.error
            raise CorruptEntry(f"{type(error).__name__}: {error}") from None
        meta_raw = arrays.pop(_META, None)
        if meta_raw is None:
            raise CorruptEntry("no metadata")
        try:
            meta = json.loads(meta_raw.tobytes().decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CorruptEntry(f"bad metadata: {error}") from None
        if meta.get("version") != PREPROCESS_VERSION or meta.get("digest") != _digest(arrays):
            raise CorruptEntry("checksum or version mismatch")
        if meta.get("key") != key:
            raise CorruptEntry(f"written for another key ({str(meta.get('key'))[:12]}...)")
        return arrays

    def get(self, key: str) -> Arrays | None:
        """The entry's arrays, or None when absent or corrupt (a corrupt file is deleted)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            return self._load(path, key)
        except CorruptEntry as why:
            log.warning("cache entry %s is corrupt (%s); rebuilding", path, why)
            path.unlink(missing_ok=True)
            return None

    def put(self, key: str, arrays: Arrays) -> Path:
        """Write an entry atomically and return its path."""
        checked: Arrays = {}
        for name, value in arrays.items():
            if not isinstance(name, str) or not name or name == _META:
                raise ValueError(f"bad array name {name!r}")
            a = np.asarray(value)
            if a.dtype.hasobject:
                raise ValueError(f"array {name!r} has dtype object; the cache stores numeric arrays only")
            checked[name] = a
        path = self.path(key)
        meta = json.dumps({"version": PREPROCESS_VERSION, "key": key, "digest": _digest(checked)})
        buffer = io.BytesIO()
        np.savez(buffer, **checked, **{_META: np.frombuffer(meta.encode(), dtype=np.uint8)})
        atomic_write(path, buffer.getvalue())
        return path

    def get_or_build(self, key: str, build: Callable[[], Arrays]) -> Arrays:
        """The cached arrays for ``key``, or ``build()``'s result, stored first."""
        cached = self.get(key)
        if cached is not None:
            return cached
        arrays = build()
        if not isinstance(arrays, dict):
            raise ValueError(f"build() must return a dict of name -> np.ndarray, got {type(arrays).__name__}")
        self.put(key, arrays)
        return {name: np.asarray(a) for name, a in arrays.items()}

    # Housekeeping
    def _entries(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        return [p for p in self.root.glob("??/*.npz") if _ENTRY_RE.match(p.name)]

    def info(self) -> dict:
        """{"root": str, "entries": int, "bytes": int} (entry files only)."""
        entries = self._entries()
        return {"root": str(self.root), "entries": len(entries), "bytes": sum(p.stat().st_size for p in entries)}

    def clear(self) -> int:
        """Delete every entry (and stray temporary files); other files under root are kept."""
        entries = self._entries()
        for p in entries:
            p.unlink(missing_ok=True)
        if self.root.is_dir():
            for tmp in self.root.glob("??/.*.tmp"):
                tmp.unlink(missing_ok=True)
            for folder in self.root.glob("??"):
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
        return len(entries)


def format_size(size: float) -> str:
    """Bytes for people: ``512`` -> ``512 B``, ``1536`` -> ``1.5 KiB`` (also report page sizes)."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            break
        size /= 1024
    return f"{size:.0f} B" if unit == "B" else f"{size:.1f} {unit}"


def format_info(info: dict) -> str:
    """One line for ``mewb cache info``."""
    return f"{info['root']}: {info['entries']} entries, {format_size(info['bytes'])}"
