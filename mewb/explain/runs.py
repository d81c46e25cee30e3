"""Reading LOSO run directories: each sample's *fold model* (the one that tested it) and its data.

A run directory (DESIGN.md) holds ``config.yaml``, ``predictions.csv`` and
``folds/<subject>/checkpoint.pt``. ``mewb.explain`` only ever explains or embeds a sample with
the checkpoint of the fold whose test subject it belongs to, so no sample is explained by a
model that trained on it.

When ``mewb.train`` provides ``load_run``, its reading of ``config.yaml`` is preferred; this
module falls back to reading the few keys it needs (variant, preprocessing, classes, data root).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from mewb.data.preprocess import PreprocessConfig

_VARIANT_KEYS = ("variant", "model", "model_name")
_PREPROCESS_KEYS = ("preprocess", "preprocessing", "data_config")
_STATE_KEYS = ("model", "model_state", "state_dict", "model_state_dict")


@dataclass
class RunInfo:
    """What explaining a run needs: where, which variant, how its inputs were made, its predictions."""

    run_dir: Path
    variant: str
    preprocess: PreprocessConfig
    num_classes: int = 3
    dataset: str | None = None
    data_root: Path | None = None
    config: dict = field(default_factory=dict, repr=False)

    @property
    def predictions(self) -> pd.DataFrame:
        path = self.run_dir / "predictions.csv"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the run has no predictions (is it finished?)")
        return pd.read_csv(path, dtype={"subject": str, "clip": str})

    def subjects(self) -> list[str]:
        """Test subjects that have a fold checkpoint."""
        return sorted(p.parent.name for p in (self.run_dir / "folds").glob("*/checkpoint.pt"))


def _first(d: Mapping, keys: tuple[str, ...]):
    for k in keys:
        if k in d and d[k] is not None:
            return d[k]
    return None


def _find(d, keys: tuple[str, ...]):
    """A value under any of ``keys`` at the top level or one section down."""
    value = _first(d, keys)
    if value is not None:
        return value
    for section in d.values():
        if isinstance(section, Mapping):
            value = _first(section, keys)
            if value is not None:
                return value
    return None


def read_run(run_dir: str | Path) -> RunInfo:
    """A run directory's :class:`RunInfo` (raises ``FileNotFoundError`` naming what is missing)."""
    import yaml

    run_dir = Path(run_dir)
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a run directory (no config.yaml)")
    config = yaml.safe_load(path.read_text()) or {}
    variant = _find(config, _VARIANT_KEYS)
    if isinstance(variant, Mapping):
        variant = _first(variant, ("name", "variant"))
    if not isinstance(variant, str):
        raise ValueError(f"{path}: no model variant found (looked for {', '.join(_VARIANT_KEYS)})")
    pre = _find(config, _PREPROCESS_KEYS) or {}
    known = set(PreprocessConfig().to_dict())
    preprocess = PreprocessConfig.from_dict({k: v for k, v in dict(pre).items() if k in known})
    data = config.get("data") if isinstance(config.get("data"), Mapping) else config
    root = _first(data, ("data_root", "root")) or _first(config, ("data_root",))
    dataset = _first(data, ("dataset", "name")) if isinstance(data, Mapping) else None
    return RunInfo(
        run_dir=run_dir,
        variant=variant,
        preprocess=preprocess,
        num_classes=int(_find(config, ("num_classes",)) or 3),
        dataset=dataset if isinstance(dataset, str) else None,
        data_root=Path(root) if root else None,
        config=config,
    )


def load_fold_model(run_dir: str | Path, subject: str, *, info: RunInfo | None = None) -> nn.Module:
    """The model that tested ``subject`` (``folds/<subject>/checkpoint.pt``), in eval mode on the CPU."""
    from mewb.models import create_model

    info = info or read_run(run_dir)
    path = Path(run_dir) / "folds" / subject / "checkpoint.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint for test subject {subject!r}; have {info.subjects()}")
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    state = _first(checkpoint, _STATE_KEYS) if isinstance(checkpoint, Mapping) else None
    if state is None:
        state = checkpoint
    if isinstance(state, nn.Module):
        model = state
    else:
        model = create_model(info.variant, num_classes=info.num_classes)
        model.load_state_dict(state)
    return model.eval()


class FoldModels(Mapping):
    """``subject -> fold model`` of one run, loaded lazily; the last ``keep`` models stay in memory.

    Also usable with models already in memory: ``FoldModels.from_models({"sub01": m, ...})``.
    """

    def __init__(self, run_dir: str | Path | None = None, *, keep: int = 2, info: RunInfo | None = None) -> None:
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.info = info or (read_run(run_dir) if run_dir is not None else None)
        self._subjects = self.info.subjects() if self.info is not None and run_dir is not None else []
        self._loaded: OrderedDict[str, nn.Module] = OrderedDict()
        self._fixed: dict[str, nn.Module] = {}
        self.keep = keep

    @classmethod
    def from_models(cls, models: Mapping[str, nn.Module]) -> "FoldModels":
        out = cls()
        out._fixed = dict(models)
        out._subjects = sorted(models)
        return out

    def __getitem__(self, subject: str) -> nn.Module:
        if subject in self._fixed:
            return self._fixed[subject]
        if subject not in self._subjects:
            raise KeyError(f"no fold model for test subject {subject!r}; have {self._subjects}")
        if subject not in self._loaded:
            self._loaded[subject] = load_fold_model(self.run_dir, subject, info=self.info)
            while len(self._loaded) > self.keep:
                self._loaded.popitem(last=False)
        self._loaded.move_to_end(subject)
        return self._loaded[subject]

    def __iter__(self) -> Iterator[str]:
        return iter(self._subjects)

    def __len__(self) -> int:
        return len(self._subjects)


def run_samples(info: RunInfo, data_root: str | Path | None = None):
    """The run's test samples, read again from the dataset (``data_root`` overrides the stored one)."""
    from mewb.data.readers import read_dataset

    root = Path(data_root) if data_root is not None else info.data_root
    if root is None:
        raise ValueError(f"{info.run_dir}: the run does not record its data root; pass data_root=")
    samples, _ = read_dataset(info.dataset or "synth", root)
    predicted = info.predictions
    keys = set(zip(predicted["subject"].astype(str), predicted["clip"].astype(str)))
    return [s for s in samples if (s.subject, s.clip) in keys]
