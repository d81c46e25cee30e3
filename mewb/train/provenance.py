"""Where a run came from: versions, git SHA, host, device (``environment.json``), and a digest of its data."""

from __future__ import annotations

import hashlib
import json
import platform
import socket
import subprocess
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from mewb.data.sample import Sample


def git_sha() -> str | None:
    """The commit of the mewb checkout (``+dirty`` when it has uncommitted changes), or None."""
    root = Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10)
        return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def environment(device: str, threads: int, executor: str, workers: int) -> dict:
    """One session's record for ``environment.json``."""
    import numpy as np
    import pandas as pd
    import sklearn
    import torch

    import mewb

    env = {
        "mewb": getattr(mewb, "__version__", None),
        "git_sha": git_sha(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "scikit-learn": sklearn.__version__,
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "device": device,
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch_threads": threads,
        "executor": executor,
        "workers": workers,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    try:
        import cv2

        env["opencv"] = cv2.__version__
    except ImportError:
        env["opencv"] = None
    return env


def samples_digest(samples: Sequence[Sample]) -> str:
    """SHA-256 over what a run is trained on, sample by sample: key, label and emotion, the
    annotation preprocessing reads (onset, apex, offset, fps, frame numbers) and the source file
    names (not their folder, so a dataset may move). ``--resume`` refuses a run whose data or
    annotation sheet changed since it started."""
    from mewb.data.pipeline import annotation

    h = hashlib.sha256()
    for s in samples:
        files = [Path(f).name for f in (s.frames or ([s.flow_image] if s.flow_image is not None else []))]
        record = {"key": s.key, "label": s.label, "emotion": s.emotion, **annotation(s), "files": files}
        h.update(json.dumps(record, sort_keys=True, default=str).encode() + b"\n")
    return h.hexdigest()
