"""Strict JSON (mewb.jsonio) and the suite-wide check that uses it (tests/conftest.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from mewb import jsonio
from tests.conftest import strict_json_problems


def strict_loads(text: str):
    return json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))


def test_non_finite_numbers_become_null_and_numpy_values_plain_numbers():
    value = {"score": float("nan"), "inf": math.inf, "neg": -math.inf, "ok": 0.5,
             "np": np.float32(np.nan), "arr": np.array([1.0, np.inf]), "n": np.int64(3), "path": Path("a/b")}
    assert strict_loads(jsonio.dumps(value)) == {"score": None, "inf": None, "neg": None, "ok": 0.5, "np": None,
                                                 "arr": [1.0, None], "n": 3, "path": "a/b"}


def test_the_suite_check_flags_lenient_json_and_ignores_broken_files(tmp_path):
    (tmp_path / "good.json").write_text(jsonio.dumps({"x": float("nan")}))
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "lenient.json").write_text(json.dumps({"x": float("nan")}))
    problems = strict_json_problems(tmp_path)
    assert len(problems) == 1 and "lenient.json" in problems[0]
    (tmp_path / "lenient.json").unlink()  # so the session-wide check of this very folder passes
