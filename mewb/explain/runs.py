"""Reading LOSO run directories: each sample's *fold model* (the one that tested it) and its data.

A run directory (``mewb.train.run_loso``) holds ``config.yaml``, ``predictions.csv`` (with a
``fold`` column) and ``folds/<fold>/checkpoint.pt`` (``{"state_dict": ...}``), where a LOSO
fold is named ``<dataset>/<subject>``. ``mewb.explain`` only ever explains or embeds a sample
with the checkpoint of the fold that *tested* it (looked up in ``predictions.csv``), so no
sample is explained by a model that trained on it. Holdout runs (dataset-level folds) work the
same way. Older layouts (``folds/<subject>/``, no ``fold`` column) fall back to the subject.
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
    model_kwargs: dict = field(default_factory=dict)
    class_names: tuple[str, ...] = ()
    config: dict = field(default_factory=dict, repr=False)

    @property
    def predictions(self) -> pd.DataFrame:
        path = self.run_dir / "predictions.csv"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the run has no predictions (is it finished?)")
        return pd.read_csv(path, dtype={"fold": str, "dataset": str, "subject": str, "clip": str})

    def folds(self) -> list[str]:
        """Fold names that have a checkpoint (``synth/sub01``; ``sub01`` in older layouts)."""
        root = self.run_dir / "folds"
        return sorted(p.parent.relative_to(root).as_posix() for p in root.rglob("checkpoint.pt"))

    subjects = folds  # the LOSO reading of the same list

    def fold_of(self) -> dict[tuple[str, str, str], str]:
        """``(dataset, subject, clip) -> fold`` that tested the clip, from ``predictions.csv``."""
        p = self.predictions
        if "fold" in p:
            folds = p["fold"].astype(str)
        else:
            folds = p["subject"].astype(str)
        return dict(zip(zip(p["dataset"].astype(str), p["subject"].astype(str), p["clip"].astype(str)), folds))


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
    data = config.get("dataset") if isinstance(config.get("dataset"), Mapping) else {}
    root = _first(data, ("root", "data_root")) or _first(config, ("data_root",))
    dataset = _first(data, ("name",)) if data else config.get("dataset")
    return RunInfo(
        run_dir=run_dir,
        variant=variant,
        preprocess=preprocess,
        num_classes=int(_find(config, ("num_classes",)) or 3),
        dataset=dataset if isinstance(dataset, str) else None,
        data_root=Path(root) if root else None,
        model_kwargs=dict(config.get("model_kwargs") or {}),
        class_names=tuple(data.get("class_names") or ()),
        config=config,
    )


def load_fold_model(run_dir: str | Path, fold: str, *, info: RunInfo | None = None) -> nn.Module:
    """The model of ``fold`` (``folds/<fold>/checkpoint.pt``, e.g. ``synth/sub01``), in eval mode on the CPU."""
    from mewb.models import create_model

    info = info or read_run(run_dir)
    path = Path(run_dir) / "folds" / fold / "checkpoint.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no checkpoint for fold {fold!r}; have {info.folds()}")
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    state = _first(checkpoint, _STATE_KEYS) if isinstance(checkpoint, Mapping) else None
    if state is None:
        state = checkpoint
    if isinstance(state, nn.Module):
        model = state
    else:
        model = create_model(info.variant, num_classes=info.num_classes, **info.model_kwargs)
        model.load_state_dict(state)
    return model.eval()


class FoldModels(Mapping):
    """``fold -> model`` of one run, loaded lazily (the last ``keep`` stay in memory).

    ``key_of(sample)`` names the fold that tested a sample (from ``predictions.csv``), and
    ``models[key_of(sample)]`` is the only model mewb.explain uses on it. A test subject's name
    also works as a key (``models["sub01"]`` for fold ``synth/sub01``). For models already in
    memory: ``FoldModels.from_models({"sub01": m, ...})`` (keyed by subject).
    """

    def __init__(self, run_dir: str | Path | None = None, *, keep: int = 2, info: RunInfo | None = None) -> None:
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.info = info or (read_run(run_dir) if run_dir is not None else None)
        self._folds = self.info.folds() if self.run_dir is not None else []
        self._fold_of: dict = {}
        if self.run_dir is not None and (self.run_dir / "predictions.csv").is_file():
            self._fold_of = self.info.fold_of()
        self._loaded: OrderedDict[str, nn.Module] = OrderedDict()
        self._fixed: dict[str, nn.Module] = {}
        self.keep = keep

    @classmethod
    def from_models(cls, models: Mapping[str, nn.Module]) -> "FoldModels":
        out = cls()
        out._fixed = dict(models)
        out._folds = sorted(models)
        return out

    def key_of(self, sample) -> str:
        """The fold that tested ``sample`` (its subject when the run does not say)."""
        return self._fold_of.get((sample.dataset, sample.subject, sample.clip), sample.subject)

    def _resolve(self, key: str) -> str:
        if key in self._folds:
            return key
        matches = [f for f in self._folds if f.rsplit("/", 1)[-1] == key]
        if len(matches) == 1:
            return matches[0]
        raise KeyError(f"no fold model for {key!r}; have {self._folds}")

    def __getitem__(self, key: str) -> nn.Module:
        if key in self._fixed:
            return self._fixed[key]
        fold = self._resolve(key)
        if fold not in self._loaded:
            self._loaded[fold] = load_fold_model(self.run_dir, fold, info=self.info)
            while len(self._loaded) > self.keep:
                self._loaded.popitem(last=False)
        self._loaded.move_to_end(fold)
        return self._loaded[fold]

    def __contains__(self, key: object) -> bool:
        try:
            return key in self._fixed or bool(self._resolve(key))  # type: ignore[arg-type]
        except KeyError:
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self._folds)

    def __len__(self) -> int:
        return len(self._folds)


def fold_key(fold_models: Mapping, sample) -> str:
    """Key of the model that tested ``sample`` in ``fold_models``: ``key_of`` when it has one, else the subject."""
    key_of = getattr(fold_models, "key_of", None)
    return key_of(sample) if key_of is not None else sample.subject


def run_samples(info: RunInfo, data_root: str | Path | None = None):
    """The run's test samples, read again from the dataset (``data_root`` overrides the stored one)."""
    from mewb.data.readers import read_dataset

    root = Path(data_root) if data_root is not None else info.data_root
    if root is None:
        raise ValueError(f"{info.run_dir}: the run does not record its data root; pass data_root=")
    samples, _ = read_dataset(info.dataset or "synth", root)
    predicted = info.predictions
    keys = set(zip(predicted["dataset"].astype(str), predicted["subject"].astype(str), predicted["clip"].astype(str)))
    return [s for s in samples if (s.dataset, s.subject, s.clip) in keys]
