"""Suite-wide checks.

Every JSON file the tests made mewb write must parse with a strict parser: no ``NaN`` or
``Infinity`` (Python writes them by default; browsers and ``jq`` reject the file). At the end of
the session every ``*.json`` under pytest's temporary folder is read twice: files that do not
parse at all are ones a test wrote broken on purpose and are left alone; a file that parses
leniently but not strictly fails the session, naming the file.
"""

from __future__ import annotations

import json

import pytest


def _refuse(constant: str):
    raise ValueError(f"non-JSON constant {constant}")


def strict_json_problems(root) -> list[str]:
    """``"path: problem"`` for each ``*.json`` under ``root`` that only Python's lenient parser accepts."""
    problems = []
    for path in sorted(root.rglob("*.json")):
        try:
            text = path.read_text(encoding="utf-8")
            json.loads(text)
        except (OSError, UnicodeDecodeError, ValueError):
            continue  # not readable as JSON at all: a test's deliberately broken file
        try:
            json.loads(text, parse_constant=_refuse)
        except ValueError as error:
            problems.append(f"{path}: {error}")
    return problems


@pytest.fixture(scope="session", autouse=True)
def every_json_written_is_strict(tmp_path_factory):
    yield
    problems = strict_json_problems(tmp_path_factory.getbasetemp())
    assert not problems, "mewb wrote JSON that strict parsers reject:\n" + "\n".join(problems)
