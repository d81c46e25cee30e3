"""``TrainConfig``: every setting of one fold's training, with a reason for each default.

Serialised into a run's ``config.yaml`` (section ``train``, see :mod:`mewb.rundir`) and into
recipes (:mod:`mewb.recipe`), so a run can be read back and repeated exactly. Where a fold runs
(device, threads, workers) is not here: that is :class:`mewb.train.executors.Execution`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from mewb.configs import strict_from_dict

LOSSES = ("ce", "focal")
SAMPLERS = ("shuffle", "balanced")
SCHEDULES = ("cosine", "constant")
# Model selection. "test-leaky" picks the epoch on the LOSO *test* subject: it inflates UF1/UAR,
# exists only to measure how much, and is labelled "test-selected (leaky)" wherever shown.
SELECTIONS = ("fixed", "inner-val", "test-leaky")
# Numeric precision of the forward and backward passes; "auto" is made concrete per device before a
# run starts (mewb.device.resolve_precision) and recorded so: bf16 on CPUs with AMX or AVX512-BF16,
# fp16 autocast + GradScaler on CUDA, fp32 elsewhere.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# How activations are laid out in memory: "channels_last" (N, T, H, W, C) is oneDNN's and cuDNN's
# native layout, so convolutions skip a reorder on every call. Same numbers up to float rounding.
MEMORY_FORMATS = ("contiguous", "channels_last")
# Test-time augmentation: "flip" averages each test clip's class probabilities with its mirror image's
# (flow u negated), a lever that reads no label and so is honest under any selection.
TTAS = ("none", "flip")
PROTOCOL_LABELS = {
    "fixed": "fixed epochs",
    "inner-val": "early stopping on training subjects",
    "test-leaky": "test-selected (leaky)",
}


@dataclass(frozen=True)
class TrainConfig:
    """How one fold is trained. Defaults are CPU-demo settings for SynthME-sized data (~100 clips)."""

    # Optimisation
    epochs: int = 12  # fixed budget (no selection on any held-out data); ~11 steps per epoch on the demo
    batch_size: int = 8  # 84 training clips -> 11 steps per epoch; small batches train these nets faster on a CPU
    lr: float = 5e-4  # AdamW peak rate; 2e-3 made the training loss climb in epochs 2-3 on SynthME, 5e-4 falls steadily
    weight_decay: float = 0.05  # AdamW decoupled decay; the nets are large for ~100 clips
    warmup_epochs: int = 1  # linear warm-up from lr/10, then the schedule
    schedule: str = "cosine"  # cosine (decay to lr/100 at the last epoch) | constant
    grad_clip: float | None = 5.0  # max gradient norm; guards the first steps of a fresh net
    recalibrate_bn: bool = True  # re-estimate BatchNorm statistics on the training clips before any evaluation
    # Loss
    loss: str = "ce"  # ce | focal
    class_weights: bool = True  # weight classes by the *training* fold's counts (MER sets are imbalanced)
    focal_gamma: float = 2.0  # focusing parameter of the focal loss (Lin et al. 2017)
    # Sampling
    sampler: str = "shuffle"  # shuffle | balanced (class-balanced sampling with replacement)
    # Augmentation (mewb.train.augment; one geometric transform for frames and flow)
    augment: bool = True  # master switch
    crop: float = 0.9  # random crop keeps this fraction of each side (1 = no crop)
    rotate_deg: float = 5.0  # uniform rotation in [-r, r] degrees
    scale: float = 0.05  # extra uniform zoom in [1 - s, 1 + s]
    hflip: bool = True  # horizontal flip (negates flow u; strain is mirrored)
    temporal_jitter: int = 1  # shift the clip by up to this many frames (edge frames repeat, their flow is 0)
    # Model selection
    selection: str = "fixed"  # fixed | inner-val (training subjects only) | test-leaky (never by default)
    val_fraction: float = 0.2  # share of the training subjects held out for inner-val selection
    patience: int = 5  # inner-val: stop after this many epochs without a better validation UF1
    # Reproducibility and precision (where and how fast folds run: mewb.train.executors.Execution)
    seed: int = 0  # seeds weights, sampling and augmentation; same seed -> same metrics on CPU
    precision: str = "fp32"  # auto | fp32 | bf16 | fp16 (fp16 only on CUDA); see PRECISIONS
    memory_format: str = "contiguous"  # contiguous | channels_last (flow_only at 28 px, 2 CPU workers: 1.1-1.2x); see MEMORY_FORMATS
    eval_batch_size: int = 32  # batch size for validation and test predictions
    # Honest levers (none reads the test subject's labels; mewb.train.fold)
    ensemble: int = 1  # models per fold, seeds seed..seed+K-1; their class probabilities are averaged
    grid: str = ""  # nested LOSO, e.g. "lr=0.0005,0.001; epochs=8,12": chosen per fold on training subjects only
    tta: str = "none"  # none | flip: average with the mirrored clip (flow u negated)
    # Pretraining (mewb pretrain; mewb.train.pretrain): every fold starts from this run's weights
    init: str = ""  # the pretraining run directory ("" = random initialisation)
    init_sha256: str = ""  # its checkpoint's SHA-256, recorded when a run starts and checked on every load
    init_data: str = ""  # what it was trained on (dataset, clips, samples_sha256), recorded with it

    def __post_init__(self) -> None:
        _check_choice("loss", self.loss, LOSSES)
        _check_choice("sampler", self.sampler, SAMPLERS)
        _check_choice("schedule", self.schedule, SCHEDULES)
        _check_choice("selection", self.selection, SELECTIONS)
        _check_choice("precision", self.precision, PRECISIONS)
        _check_choice("tta", self.tta, TTAS)
        _check_choice("memory_format", self.memory_format, MEMORY_FORMATS)
        if self.ensemble < 1:
            raise ValueError(f"ensemble must be >= 1 models per fold, got {self.ensemble}")
        if self.grid:
            grid_points(self.grid)  # a malformed grid fails when the config is made
            if self.selection != "fixed":
                raise ValueError(f"grid search picks its settings on an inner validation split; it needs selection "
                                 f"'fixed', not {self.selection!r} (put epochs in the grid instead)")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs} and {self.batch_size}")
        if not 0.0 < self.crop <= 1.0:
            raise ValueError(f"crop must be in (0, 1], got {self.crop}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")

    @property
    def protocol(self) -> str:
        """The model-selection protocol as written in ``metrics.json`` and every table."""
        return PROTOCOL_LABELS[self.selection]

    @property
    def leaky(self) -> bool:
        return self.selection == "test-leaky"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        return strict_from_dict(cls, values, "training")

    def replace(self, **changes) -> "TrainConfig":
        return replace(self, **changes)


GRID_KEYS = {"lr": float, "weight_decay": float, "epochs": int, "batch_size": int, "focal_gamma": float}


def grid_points(grid: str) -> list[dict]:
    """The settings a ``train.grid`` string spans, in order: ``"lr=1e-3,5e-4; epochs=8,12"`` ->
    ``[{"lr": 0.001, "epochs": 8}, {"lr": 0.001, "epochs": 12}, {"lr": 0.0005, "epochs": 8}, ...]``."""
    import itertools

    axes = []
    for part in (p.strip() for p in grid.split(";")):
        if not part:
            continue
        key, sep, values = part.partition("=")
        key = key.strip()
        if not sep or key not in GRID_KEYS:
            raise ValueError(f"grid {grid!r}: {part!r} is not KEY=V1,V2 with KEY one of {', '.join(GRID_KEYS)}")
        try:
            parsed = [GRID_KEYS[key](v.strip()) for v in values.split(",") if v.strip()]
        except ValueError:
            raise ValueError(f"grid {grid!r}: the values of {key} must be {GRID_KEYS[key].__name__}s") from None
        if not parsed:
            raise ValueError(f"grid {grid!r}: no values for {key}")
        axes.append([(key, v) for v in parsed])
    if not axes:
        raise ValueError(f"grid {grid!r} names no settings")
    return [dict(combo) for combo in itertools.product(*axes)]


def _check_choice(name: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")
