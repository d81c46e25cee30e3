"""The model a run directory offers for new recordings: its final model, else its fold models averaged.

A LOSO run (``mewb loso``) holds one model per held-out subject, each trained without that
subject. A recording from someone new is best classified by one model trained on *all* subjects
with the same settings (``mewb train --all-subjects``, :func:`mewb.predict.final.train_final`), a
run directory of protocol ``all-subjects`` with the single fold ``all``. :func:`load_run_model`
looks for it (the run itself, or ``<run>-final`` next to it with the same variant and
preprocessing) and otherwise averages the class probabilities of the fold models, saying so in
``RunModel.source``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mewb.data.preprocess import PreprocessConfig
from mewb.predict.final import FINAL_FOLD, FINAL_PROTOCOL
from mewb.rundir import RunConfig, RunDir, RunDirError


class NoModelError(ValueError):
    """The run directory has no checkpoint that can be loaded."""


@dataclass
class RunModel:
    """One or more trained models of a run and how to feed them.

    ``probabilities(inputs)`` averages the softmax of every model; with a final model there is one.
    """

    run_dir: Path
    variant: str
    models: list[nn.Module]
    checkpoints: list[Path]
    kind: str  # "final" | "fold-average"
    preprocess: PreprocessConfig
    class_names: list[str]
    config: RunConfig | None = field(default=None, repr=False)

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(self.models[0].modalities)

    @property
    def source(self) -> str:
        """One line for the output JSON and the console."""
        if self.kind == "final":
            return f"final model (all subjects) {self.checkpoints[0]}"
        count = f"{len(self.models)} LOSO fold model" + ("s" if len(self.models) != 1 else "")
        return (f"average of the class probabilities of {count} in {self.run_dir} "
                f"(no final model: train one with `mewb train --all-subjects --run-config "
                f"{self.run_dir / 'config.yaml'} --out {self.run_dir}-final`)")

    @torch.no_grad()
    def probabilities(self, inputs: Mapping[str, torch.Tensor]) -> np.ndarray:
        """``{"frames": (N, 3, T, H, W), "flow": (N, 3, T', H, W)}`` -> ``(N, K)`` mean softmax."""
        probs = [torch.softmax(m({k: inputs[k] for k in m.modalities}).float(), dim=1) for m in self.models]
        return torch.stack(probs).mean(0).numpy()


def _same_model(a: RunConfig, b: RunConfig) -> bool:
    return (a.variant, a.model_kwargs, a.num_classes, a.preprocess, a.dataset.class_names) == (
        b.variant, b.model_kwargs, b.num_classes, b.preprocess, b.dataset.class_names)


def _folds(run: RunDir) -> list[str]:
    if run.config.protocol == FINAL_PROTOCOL:
        return [f for f in run.finished_folds() if f == FINAL_FOLD]
    return run.finished_folds()


def load_run_model(run_dir: str | Path, *, prefer_final: bool = True) -> RunModel:
    """The model(s) to apply to new recordings; see the module docstring.

    Raises ``FileNotFoundError`` (no run directory or ``config.yaml``) or :class:`NoModelError`
    (no loadable checkpoint), each naming the file.
    """
    chosen = RunDir.open(run_dir)
    if prefer_final and chosen.config.protocol != FINAL_PROTOCOL:
        sibling = chosen.path.parent / f"{chosen.path.name}-final"
        if (sibling / "config.yaml").is_file():
            other = RunDir.open(sibling)
            if other.config.protocol == FINAL_PROTOCOL and _same_model(chosen.config, other.config) and _folds(other):
                chosen = other
    folds = _folds(chosen)
    if not folds:
        which = FINAL_FOLD if chosen.config.protocol == FINAL_PROTOCOL else "*"
        raise NoModelError(f"{chosen.path}: no usable model, no finished fold at {chosen.path / 'folds' / which} "
                           "(is the run finished?)")
    try:
        models = [chosen.load_model(f) for f in folds]
    except RunDirError as error:
        raise NoModelError(str(error)) from None
    return RunModel(
        run_dir=chosen.path,
        variant=chosen.variant,
        models=models,
        checkpoints=[chosen.checkpoint_path(f) for f in folds],
        kind="final" if chosen.config.protocol == FINAL_PROTOCOL else "fold-average",
        preprocess=chosen.preprocess,
        class_names=chosen.class_names,
        config=chosen.config,
    )
