"""One fold: train a model on tensor-dict datasets and predict the held-out clips.

``train_fold`` is independent of where the data comes from: any ``Dataset`` whose items are
``{"frames": (3, T, H, W), "flow": (3, T', H, W), "label": (), "index": int}`` (only the
modalities the model reads are needed) works, which is how the tests run it on tiny in-memory
clips.

Model selection (``TrainConfig.selection``):

- ``fixed`` (default): the weights after the last epoch; the test clips are seen once, at the end.
- ``inner-val``: the epoch with the best UF1 on a validation set made of *training* subjects;
  stops after ``patience`` epochs without improvement.
- ``test-leaky``: the epoch with the best UF1 on the test subject itself. Inflates results;
  every log line says ``test-selected (leaky)``.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

from mewb.device import (autocast, configure_worker_threads, memory_layout, resolve_device, resolve_precision,
                         use_memory_format)
from mewb.train.augment import Augment, AugmentedDataset, mirror
from mewb.train.config import TrainConfig
from mewb.train.metrics import scores

log = logging.getLogger(__name__)
LogFn = Callable[[str], None]


# ---------------------------------------------------------------------------------------------
# Losses


def class_weights(labels: Sequence[int], num_classes: int) -> torch.Tensor:
    """``(K,)`` inverse-frequency weights ``n / (K_present * n_c)`` from the *training* labels.

    A class with no training sample gets weight 0 (it cannot appear as a target anyway).
    """
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(num_classes)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return torch.tensor(weights, dtype=torch.float32)


class FocalLoss(nn.Module):
    """Multi-class focal loss, ``-w_y (1 - p_y)^gamma log p_y`` averaged like weighted CE.

    Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017, https://arxiv.org/abs/1708.02002.
    Written here because torch has none and ``torchvision.ops.sigmoid_focal_loss`` is the binary
    (sigmoid) form. With ``gamma=0`` this equals ``F.cross_entropy(weight=w)`` (tested).
    """

    def __init__(self, gamma: float = 2.0, weight: torch.Tensor | None = None) -> None:
        super().__init__()
        self.gamma = gamma
        self.register_buffer("weight", weight if weight is not None else None)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``logits`` ``(N, K)``, ``target`` ``(N,)`` -> scalar."""
        log_p = F.log_softmax(logits.float(), dim=1).gather(1, target[:, None]).squeeze(1)  # (N,)
        loss = -((1.0 - log_p.exp()) ** self.gamma) * log_p
        if self.weight is None:
            return loss.mean()
        w = self.weight[target]
        return (w * loss).sum() / w.sum().clamp_min(1e-12)


def make_loss(config: TrainConfig, train_labels: Sequence[int], num_classes: int) -> nn.Module:
    weight = class_weights(train_labels, num_classes) if config.class_weights else None
    if config.loss == "focal":
        return FocalLoss(config.focal_gamma, weight)
    return nn.CrossEntropyLoss(weight=weight)


# ---------------------------------------------------------------------------------------------
# Optimiser, schedule, data


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; no weight decay on biases and norm parameters (1-D tensors), as is usual.

    The fused implementation (one kernel over all parameters, CPU and CUDA): on the dense
    ``baseline`` (33 M parameters) a step takes 19 ms instead of 111 ms (for-each) on 2 CPU cores,
    a third of a whole training step at the demo size.
    """
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, fused=True)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int):
    """Per-step schedule: linear warm-up from lr/10 over ``warmup_epochs``, then cosine to lr/100 (or constant)."""
    total = config.epochs * steps_per_epoch
    warm = min(config.warmup_epochs * steps_per_epoch, max(total - 1, 0))
    if config.schedule == "constant":
        main = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    else:
        main = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total - warm, 1), eta_min=config.lr / 100)
    if warm == 0:
        return main
    warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=warm)
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [warmup, main], milestones=[warm])


def make_train_loader(dataset: Dataset, labels: Sequence[int], config: TrainConfig, num_classes: int, *,
                      loader_workers: int = 0) -> DataLoader:
    generator = torch.Generator().manual_seed(config.seed)
    sampler = None
    if config.sampler == "balanced":
        counts = np.bincount(np.asarray(labels), minlength=num_classes).astype(np.float64)
        weights = torch.tensor([1.0 / counts[y] for y in labels], dtype=torch.double)
        sampler = WeightedRandomSampler(weights, num_samples=len(labels), replacement=True, generator=generator)
    return DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        generator=generator if sampler is None else None,
        num_workers=loader_workers,
        worker_init_fn=configure_worker_threads if loader_workers else None,
        # BatchNorm cannot train on a last batch of one clip at 1x1x1 resolution; drop the remainder.
        drop_last=len(dataset) > config.batch_size,
        pin_memory=False,
    )


def _inputs(batch: dict, modalities: Sequence[str], device: torch.device, memory_format: str = "contiguous",
            augmented: AugmentedDataset | None = None) -> dict:
    """The model's inputs of a collated batch on ``device``: each clip transformed by its augmentation
    draw (on the device, one resampling per batch), then laid out as ``memory_format``."""
    inputs = {m: batch[m].to(device, non_blocking=True) for m in modalities}
    if augmented is not None:
        inputs = augmented.transform({**inputs, "augment": batch["augment"]})
    return {m: inputs[m].contiguous(memory_format=memory_layout(memory_format)) for m in modalities}


@torch.no_grad()
def predict(model: nn.Module, dataset: Dataset, *, device: torch.device | str = "cpu", batch_size: int = 32,
            precision: str = "fp32", num_workers: int = 0, tta: str = "none", memory_format: str = "contiguous") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Softmax probabilities ``(N, K)``, labels ``(N,)`` and dataset indices ``(N,)`` in dataset order.

    ``tta="flip"``: each clip's probabilities are the mean of its own and its mirror image's
    (:func:`mewb.train.augment.mirror`).
    """
    device = torch.device(device)
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        worker_init_fn=configure_worker_threads if num_workers else None)
    probs, labels, indices = [], [], []
    for batch in loader:
        inputs = _inputs(batch, model.modalities, device, memory_format)
        with autocast(device, precision):
            p = torch.softmax(model(inputs).float(), dim=1)
            if tta == "flip":
                p = (p + torch.softmax(model(mirror(inputs)).float(), dim=1)) / 2
        probs.append(p.cpu())
        labels.append(batch["label"])
        indices.append(torch.as_tensor(batch["index"]))
    if not probs:
        return np.zeros((0, getattr(model, "num_classes", 0)), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64)
    return torch.cat(probs).numpy(), torch.cat(labels).numpy(), torch.cat(indices).numpy()


# ---------------------------------------------------------------------------------------------
# The loop


@dataclass
class FoldOutcome:
    """What ``train_fold`` returns. ``probs`` ``(N_test, K)`` in test-dataset order."""

    probs: np.ndarray
    labels: np.ndarray
    history: list[dict] = field(default_factory=list)
    selected_epoch: int = 0
    state_dict: dict = field(default_factory=dict)

    @property
    def preds(self) -> np.ndarray:
        return self.probs.argmax(1) if len(self.probs) else np.zeros(0, np.int64)


def train_fold(
    model: nn.Module,
    train_set: Dataset,
    train_labels: Sequence[int],
    *,
    config: TrainConfig,
    num_classes: int,
    test_set: Dataset | None = None,
    val_set: Dataset | None = None,
    flow_mode: str = "onset",
    device: str | torch.device = "auto",
    loader_workers: int = 0,
    log_fn: LogFn | None = None,
    progress: bool = False,
    desc: str = "",
) -> FoldOutcome:
    """Train ``model`` on ``train_set`` for one fold and predict ``test_set`` with the selected weights.

    ``train_labels`` ``(N_train,)`` are the training labels (for class weights and the balanced
    sampler), in ``train_set`` order. The caller seeds torch before building ``model``.
    """
    if config.selection == "inner-val" and val_set is None:
        raise ValueError("selection='inner-val' needs a validation set of training subjects (val_set)")
    if config.selection == "test-leaky" and test_set is None:
        raise ValueError("selection='test-leaky' needs the test set")
    device = resolve_device(device)
    precision = resolve_precision(config.precision, device)
    if device.type == "cpu":
        # Flush subnormal floats to zero: on SynthME (flow of ~0.05 px) subnormals appeared and one
        # full-variant epoch took 2x as long (36 s vs 17 s per epoch, same loss). Process-wide.
        torch.set_flush_denormal(True)
    say = log_fn or log.info
    tag = " [test-selected (leaky)]" if config.leaky else ""
    torch.manual_seed(config.seed)

    use_memory_format(model.to(device), config.memory_format)
    data = AugmentedDataset(train_set, Augment.from_config(config, flow_mode), seed=config.seed) if config.augment else train_set
    loader = make_train_loader(data, train_labels, config, num_classes, loader_workers=loader_workers)
    criterion = make_loss(config, train_labels, num_classes).to(device)
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config, max(len(loader), 1))
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    select_on = {"inner-val": val_set, "test-leaky": test_set}.get(config.selection)

    history: list[dict] = []
    best = (-math.inf, 0, None)  # (score, epoch, state)
    stale = 0
    bar = _epoch_bar(config.epochs, desc + tag, progress)
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        if isinstance(data, AugmentedDataset):
            data.set_epoch(epoch)
        model.train()
        # The epoch's summed loss stays on the device: reading it every step (float(loss)) would make
        # each CUDA step wait for the GPU to finish before the next batch is queued.
        total, seen = torch.zeros((), device=device), 0
        for batch in loader:
            inputs = _inputs(batch, model.modalities, device, config.memory_format,
                             augmented=data if isinstance(data, AugmentedDataset) else None)
            target = batch["label"].to(device)
            optimizer.zero_grad(set_to_none=True)
            with autocast(device, precision):
                logits = model(inputs)
            loss = criterion(logits.float(), target)
            scaler.scale(loss).backward()
            if config.grad_clip:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            total += loss.detach() * len(target)
            seen += len(target)
        record = {"epoch": epoch, "loss": float(total) / max(seen, 1), "lr": optimizer.param_groups[0]["lr"]}
        if select_on is not None:
            if config.recalibrate_bn:
                recalibrate_batchnorm(model, train_set, device=device, batch_size=config.batch_size)
            probs, labels, _ = predict(model, select_on, device=device, batch_size=config.eval_batch_size, precision=precision,
                                       tta=config.tta, memory_format=config.memory_format)
            s = scores(labels, probs.argmax(1), num_classes)
            key = "val" if config.selection == "inner-val" else "test"
            record[f"{key}_uf1"], record[f"{key}_uar"], record[f"{key}_loss"] = (
                s["uf1"], s["uar"], float(F.nll_loss(torch.log(torch.tensor(probs).clamp_min(1e-8)), torch.tensor(labels))),
            )
            # Ties go to the later epoch's lower loss: compare (UF1, -loss).
            score = (s["uf1"] or 0.0) - 1e-6 * record[f"{key}_loss"]
            if score > best[0]:
                best = (score, epoch, copy.deepcopy(model.state_dict()))
                stale = 0
            else:
                stale += 1
        record["seconds"] = time.perf_counter() - started
        history.append(record)
        line = _epoch_line(desc, record, config) + tag
        say(line)
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(line.split(": ", 1)[-1], refresh=False)
        if config.selection == "inner-val" and stale >= config.patience:
            say(f"{desc}: early stop after epoch {epoch} (no better validation UF1 for {stale} epochs)")
            break
    if bar is not None:
        bar.close()

    selected = len(history)
    if best[2] is not None:
        selected = best[1]
        model.load_state_dict(best[2])
    elif config.recalibrate_bn:
        recalibrate_batchnorm(model, train_set, device=device, batch_size=config.batch_size)
    # Checkpoints hold plain (contiguous) tensors whatever layout trained.
    state = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    if test_set is not None:
        probs, labels, _ = predict(model, test_set, device=device, batch_size=config.eval_batch_size, precision=precision,
                                   tta=config.tta, memory_format=config.memory_format)
    else:
        probs, labels = np.zeros((0, num_classes), np.float32), np.zeros(0, np.int64)
    return FoldOutcome(probs=probs, labels=labels, history=history, selected_epoch=selected, state_dict=state)


def recalibrate_batchnorm(model: nn.Module, dataset: Dataset, *, device: torch.device, batch_size: int) -> None:
    """Re-estimate BatchNorm running statistics with the final weights on the (unaugmented) training set.

    The running averages BatchNorm keeps during training mix statistics of many earlier weights;
    with ~10 steps per epoch they lag the final weights and eval-mode predictions can collapse
    to one class (train-mode accuracy 100%, eval-mode chance on the toy data). One pass over
    the *training* clips with the final weights fixes that ("precise BN"); no test data is seen.
    Uses ``torch.optim.swa_utils.update_bn`` (cumulative averages over the whole pass).
    """
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, drop_last=len(dataset) > batch_size)
    inputs = (_inputs(batch, model.modalities, device) for batch in loader)
    with torch.no_grad():
        torch.optim.swa_utils.update_bn(inputs, model, device=None)
    model.eval()


def _epoch_line(desc: str, r: dict, config: TrainConfig) -> str:
    parts = [f"epoch {r['epoch']}/{config.epochs}", f"loss {r['loss']:.4f}", f"lr {r['lr']:.2e}"]
    for key in ("val", "test"):
        if f"{key}_uf1" in r:
            parts.append(f"{key} UF1 {r[f'{key}_uf1']:.4f} UAR {r[f'{key}_uar']:.4f}")
    parts.append(f"{r['seconds']:.1f}s")
    return f"{desc}: " + " ".join(parts) if desc else " ".join(parts)


def _epoch_bar(total: int, desc: str, progress: bool):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc or "epochs", unit="epoch", leave=False, dynamic_ncols=True)
