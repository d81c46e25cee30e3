"""Explaining a run's test clips with each clip's *fold model* (the one that tested it).

The run directory is read through :mod:`mewb.rundir`. ``mewb.explain`` only ever explains or
embeds a sample with the checkpoint of the fold that *tested* it (looked up in
``predictions.csv``), so no sample is explained by a model that trained on it. Holdout runs
(dataset-level folds) work the same way.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path

from torch import nn

from mewb.rundir import RunDir


class FoldModels(Mapping):
    """``fold -> model`` of one run, loaded lazily (the last ``keep`` stay in memory).

    ``key_of(sample)`` names the fold that tested a sample (from ``predictions.csv``), and
    ``models[key_of(sample)]`` is the only model mewb.explain uses on it. A test subject's name
    also works as a key (``models["sub01"]`` for fold ``synth/sub01``). For models already in
    memory: ``FoldModels.from_models({"sub01": m, ...})`` (keyed by subject).
    """

    def __init__(self, run: RunDir | str | Path | None = None, *, keep: int = 2) -> None:
        self.run = run if isinstance(run, RunDir) or run is None else RunDir.open(run)
        self._folds = self.run.finished_folds() if self.run is not None else []
        self._fold_of: dict = {}
        if self.run is not None and (self.run.path / "predictions.csv").is_file():
            self._fold_of = self.run.fold_of()
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
            self._loaded[fold] = self.run.load_model(fold)
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


def run_samples(run: RunDir, data_root: str | Path | None = None):
    """The run's test samples, read again from the dataset (``data_root`` overrides the stored one)."""
    from mewb.data.readers import read_dataset

    root = Path(data_root) if data_root is not None else run.data_root
    if root is None:
        raise ValueError(f"{run.path / 'config.yaml'}: the run does not record its data root; pass data_root=")
    samples, _ = read_dataset(run.config.dataset.name, root)
    predicted = run.predictions()
    keys = set(zip(predicted["dataset"], predicted["subject"], predicted["clip"]))
    return [s for s in samples if (s.dataset, s.subject, s.clip) in keys]
