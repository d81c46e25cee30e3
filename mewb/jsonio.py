"""Strict JSON for every file mewb writes: NaN and infinity become ``null``.

Python's ``json`` writes ``NaN`` and ``Infinity`` by default, which is not JSON: browsers,
``jq`` and every strict parser reject the whole file. :func:`dumps` replaces non-finite floats
with ``None``, turns numpy scalars and arrays into plain numbers and lists, and paths into text,
then serialises with ``allow_nan=False`` so nothing slips through.
"""

from __future__ import annotations

import json
import math
from pathlib import PurePath
from typing import Any

import numpy as np


def plain(value: Any) -> Any:
    """``value`` with every non-finite float as ``None`` and numpy/path values as plain JSON types."""
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, (str, int, float, bool)) and k is not None else k: plain(v)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return plain(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, PurePath):
        return str(value)
    return value


def dumps(value: Any, **kwargs) -> str:
    """``json.dumps`` of :func:`plain` ``(value)``, strict (``allow_nan=False``); ``default=str`` for the rest."""
    kwargs.setdefault("default", str)
    return json.dumps(plain(value), allow_nan=False, **kwargs)
