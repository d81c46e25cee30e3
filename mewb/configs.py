"""Building config dataclasses from plain dicts (YAML, run directories), strictly."""

from __future__ import annotations

from dataclasses import fields
from typing import TypeVar

C = TypeVar("C")


def strict_from_dict(cls: type[C], values: dict, kind: str) -> C:
    """``cls(**values)``, but an unknown key raises ``ValueError`` listing the valid ones.

    A misspelt setting in a config file must stop the run, not be silently ignored.
    """
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"unknown {kind} settings {sorted(unknown)}; valid: {sorted(known)}")
    return cls(**values)
