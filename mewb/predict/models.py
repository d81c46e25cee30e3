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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mewb.data.preprocess import PreprocessConfig

FINAL_PROTOCOL = "all-subjects"  # config.yaml "protocol" of a final-model run
FINAL_FOLD = "all"  # its one fold: folds/all/checkpoint.pt


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
    config: dict = field(default_factory=dict, repr=False)

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


def _read_config(run_dir: Path) -> dict:
    import yaml

    path = run_dir / "config.yaml"
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: run directory not found")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found; --run must be a mewb run directory (mewb loso --out ...)")
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(config, dict) or not isinstance(config.get("variant"), str):
        raise ValueError(f"{path}: no model variant in the run's config")
    return config


def _is_final(config: dict) -> bool:
    return config.get("protocol") == FINAL_PROTOCOL


def _checkpoints(run_dir: Path, config: dict) -> list[Path]:
    if _is_final(config):
        return [p for p in [run_dir / "folds" / FINAL_FOLD / "checkpoint.pt"] if p.is_file()]
    return sorted((run_dir / "folds").glob("**/checkpoint.pt"))


def _same_model(a: dict, b: dict) -> bool:
    keys = ("variant", "model_kwargs", "num_classes", "preprocess")
    return all(a.get(k) == b.get(k) for k in keys) and (
        (a.get("dataset") or {}).get("class_names") == (b.get("dataset") or {}).get("class_names"))


def _load(path: Path, config: dict) -> nn.Module:
    from mewb.models import create_model

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # a truncated or foreign file: name it, whatever torch raised
        raise NoModelError(f"{path}: cannot load the checkpoint ({type(error).__name__}: {error})") from None
    state = checkpoint.get("state_dict") if isinstance(checkpoint, Mapping) else None
    if state is None:
        raise NoModelError(f"{path}: no 'state_dict' in the checkpoint")
    model = create_model(config["variant"], num_classes=int(config.get("num_classes") or 3),
                         **(config.get("model_kwargs") or {}))
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise NoModelError(f"{path}: weights do not fit the run's model {config['variant']!r} ({first})") from None
    return model.eval()


def load_run_model(run_dir: str | Path, *, prefer_final: bool = True) -> RunModel:
    """The model(s) to apply to new recordings; see the module docstring.

    Raises ``FileNotFoundError`` (no run directory or ``config.yaml``) or :class:`NoModelError`
    (no loadable checkpoint), each naming the file.
    """
    run_dir = Path(run_dir)
    config = _read_config(run_dir)
    chosen_dir, chosen = run_dir, config
    if prefer_final and not _is_final(config):
        sibling = run_dir.parent / f"{run_dir.name}-final"
        if (sibling / "config.yaml").is_file():
            other = _read_config(sibling)
            if _is_final(other) and _same_model(config, other) and _checkpoints(sibling, other):
                chosen_dir, chosen = sibling, other
    paths = _checkpoints(chosen_dir, chosen)
    if not paths:
        where = chosen_dir / "folds" / (FINAL_FOLD if _is_final(chosen) else "*") / "checkpoint.pt"
        raise NoModelError(f"{chosen_dir}: no usable model, no checkpoint at {where} (is the run finished?)")
    models = [_load(p, chosen) for p in paths]
    names = list((chosen.get("dataset") or {}).get("class_names") or [])
    num_classes = int(chosen.get("num_classes") or 3)
    if len(names) != num_classes:
        names = [f"class {i}" for i in range(num_classes)]
    return RunModel(
        run_dir=chosen_dir,
        variant=chosen["variant"],
        models=models,
        checkpoints=paths,
        kind="final" if _is_final(chosen) else "fold-average",
        preprocess=PreprocessConfig.from_dict(chosen.get("preprocess") or {}),
        class_names=names,
        config=chosen,
    )


def fold_names(paths: Sequence[Path], run_dir: Path) -> list[str]:
    """``folds/<dataset>/<subject>/checkpoint.pt`` -> ``dataset/subject``."""
    return [str(p.parent.relative_to(run_dir / "folds")) for p in paths]
