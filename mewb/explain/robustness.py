"""Robustness probes: does the model keep its accuracy under illumination changes and occlusion?

The paper claims the dual-modal model resists illumination changes and partial occlusion. Here
each test fold's *input frames* (the uint8 face clip the model sees, after EVM for ``full``)
are perturbed, and the optical flow is recomputed from the perturbed frames with the run's own
flow settings (``mewb.data.preprocess.flow_from_frames``), so flow sees the perturbation too, as
it would with a real camera. Each sample is predicted by the fold model that tested it.

Perturbations (``PERTURBATIONS``), each at severities 1-3:

==============  ===============================================================================
brightness      + 25 x severity grey levels (clipped at 255)
contrast        contrast about the clip's mean x (1 - 0.25 x severity)
gamma           gamma 1 + 0.5 x severity (darker mid-tones)
flicker         per-frame gain 1 +/- 0.05 x severity, alternating (the worst case for flow)
occlude_eyes    grey patch over both eyes; grows with severity
occlude_mouth   grey patch over the mouth; grows with severity
noise           Gaussian sensor noise, sigma 4 x severity grey levels, new per frame (seeded)
==============  ===============================================================================

Patch positions are fractions of the face crop (eyes at 45% of the height, mouth at 72%), as
measured on SynthME's faces and as the aligned crops of ``mewb.data.face`` place them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from mewb.data.pipeline import ClipPipeline
from mewb.data.preprocess import PreprocessConfig
from mewb.data.sample import Sample
from mewb.registry import Registry

PERTURBATIONS: Registry = Registry("perturbation")
SEVERITIES = (1, 2, 3)
# (centre y, centre x, half height, half width) as fractions of the crop, at severity 1
EYES_BOX = (0.455, 0.5, 0.06, 0.25)
MOUTH_BOX = (0.72, 0.5, 0.07, 0.2)
PATCH_GREY = 128


def _clip_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


@PERTURBATIONS.register("brightness")
def brightness(clip: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    return _clip_uint8(clip.astype(np.float32) + 25.0 * severity)


@PERTURBATIONS.register("contrast")
def contrast(clip: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    x = clip.astype(np.float32)
    mean = x.mean()
    return _clip_uint8(mean + (x - mean) * max(0.0, 1.0 - 0.25 * severity))


@PERTURBATIONS.register("gamma")
def gamma(clip: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    return _clip_uint8(255.0 * (clip.astype(np.float32) / 255.0) ** (1.0 + 0.5 * severity))


@PERTURBATIONS.register("flicker")
def flicker(clip: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    signs = np.where(np.arange(len(clip)) % 2 == 0, 1.0, -1.0).astype(np.float32)
    gain = 1.0 + 0.05 * severity * signs  # (T,)
    return _clip_uint8(clip.astype(np.float32) * gain[:, None, None, None])


def _patch(clip: np.ndarray, box: tuple[float, float, float, float], severity: int) -> np.ndarray:
    h, w = clip.shape[1:3]
    cy, cx, hh, hw = box
    grow = 1.0 + 0.5 * (severity - 1)
    y0, y1 = int(round((cy - hh * grow) * h)), int(round((cy + hh * grow) * h))
    x0, x1 = int(round((cx - hw * grow) * w)), int(round((cx + hw * grow) * w))
    out = clip.copy()
    out[:, max(0, y0) : min(h, y1), max(0, x0) : min(w, x1)] = PATCH_GREY
    return out


@PERTURBATIONS.register("occlude_eyes")
def occlude_eyes(clip: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    return _patch(clip, EYES_BOX, severity)


@PERTURBATIONS.register("occlude_mouth")
def occlude_mouth(clip: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    return _patch(clip, MOUTH_BOX, severity)


@PERTURBATIONS.register("noise")
def noise(clip: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    return _clip_uint8(clip.astype(np.float32) + rng.normal(0.0, 4.0 * severity, clip.shape))


def perturb(clip: np.ndarray, name: str, severity: int, *, seed: int = 0) -> np.ndarray:
    """``(T, H, W, 3)`` uint8 -> perturbed copy, same shape; ``name="none"`` or severity 0 returns a copy."""
    if name == "none" or severity == 0:
        return clip.copy()
    if severity < 0:
        raise ValueError(f"severity must be >= 0, got {severity}")
    return PERTURBATIONS.get(name)(clip, int(severity), np.random.default_rng(seed))


def perturbed_inputs(
    sample: Sample,
    config: PreprocessConfig,
    modalities: Sequence[str],
    name: str,
    severity: int,
    *,
    cache=None,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """Model inputs of a perturbed sample: ``{"frames": (1, 3, T, H, W), "flow": (1, 3, T', H, W)}``.

    The clean frames come from the preprocessing cache; flow is recomputed from the perturbed
    frames (the clean flow is used for the unperturbed case, so ``none`` equals the clean run),
    at the run's ``flow_size`` when it has one: the frames flow is computed on are perturbed too.
    """
    pipeline = ClipPipeline(config, modalities, cache)
    if name == "none" or severity == 0:
        return pipeline.inputs(sample)
    arrays = {}
    if "frames" in modalities:
        arrays["frames"] = perturb(pipeline.frames(sample), name, severity, seed=seed)  # (T, H, W, 3) uint8
    if "flow" in modalities:  # recomputed from the perturbed frames it is computed on (at flow_size when set)
        arrays["flow"] = pipeline.flow_of(perturb(pipeline.flow_source_frames(sample), name, severity, seed=seed))
    return ClipPipeline.to_tensors(arrays, batch=True)


def _scores(labels: np.ndarray, preds: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import f1_score

    return {"accuracy": float((labels == preds).mean()), "uf1": float(f1_score(labels, preds, average="macro"))}


def robustness_table(
    variants: Mapping[str, tuple[Mapping[str, nn.Module], PreprocessConfig]],
    samples: Sequence[Sample],
    *,
    perturbations: Sequence[str] = tuple(PERTURBATIONS.names()),
    severities: Sequence[int] = SEVERITIES,
    cache=None,
    seed: int = 0,
    progress: bool = False,
) -> pd.DataFrame:
    """Accuracy and UF1 per variant, perturbation and severity (``none`` / 0 is the clean row).

    Args:
        variants: ``name -> (fold models, the run's PreprocessConfig)``; fold models as in
            :func:`mewb.explain.fold_embeddings` (a ``FoldModels`` or a dict keyed by subject).
        samples: the test samples (each predicted by the fold model that tested it).

    Returns:
        DataFrame with columns ``variant, perturbation, severity, accuracy, uf1, n``, plus
        ``d_accuracy`` and ``d_uf1``, the change from the variant's clean row.
    """
    from tqdm.auto import tqdm

    from mewb.explain.runs import fold_key

    conditions = [("none", 0)] + [(p, s) for p in perturbations for s in severities]
    labels = np.array([s.label for s in samples])
    rows = []
    for variant, (fold_models, config) in variants.items():
        for name, severity in tqdm(conditions, desc=f"robustness {variant}", disable=not progress):
            preds = np.zeros(len(samples), int)
            for i, sample in enumerate(samples):
                model = fold_models[fold_key(fold_models, sample)]
                model.eval()
                x = perturbed_inputs(sample, config, model.modalities, name, severity, cache=cache, seed=seed + i)
                with torch.no_grad():
                    preds[i] = int(model(x).argmax(dim=1)[0])
            rows.append({"variant": variant, "perturbation": name, "severity": severity, **_scores(labels, preds), "n": len(samples)})
    table = pd.DataFrame(rows)
    clean = table[table.perturbation == "none"].set_index("variant")
    table["d_accuracy"] = table.accuracy - table.variant.map(clean.accuracy)
    table["d_uf1"] = table.uf1 - table.variant.map(clean.uf1)
    return table


def run_robustness(
    run_dirs: Sequence[str],
    *,
    data_root: str | None = None,
    cache=None,
    clips_per_subject: int | None = None,
    **options,
) -> pd.DataFrame:
    """:func:`robustness_table` over LOSO run directories (one variant each, same samples).

    ``clips_per_subject`` keeps the first clips of each subject (flow is recomputed for every
    clip and condition, which dominates the cost with TV-L1).
    """
    from mewb.explain.runs import FoldModels, run_samples
    from mewb.rundir import RunDir

    runs = [RunDir.open(r) for r in run_dirs]
    samples = run_samples(runs[0], data_root)
    if clips_per_subject is not None:
        kept: dict[str, int] = {}
        picked = []
        for s in samples:
            kept[s.subject] = kept.get(s.subject, 0) + 1
            if kept[s.subject] <= clips_per_subject:
                picked.append(s)
        samples = picked
    variants: dict[str, tuple[Callable, PreprocessConfig]] = {
        run.variant: (FoldModels(run, keep=8), run.preprocess) for run in runs
    }
    return robustness_table(variants, samples, cache=cache, **options)
