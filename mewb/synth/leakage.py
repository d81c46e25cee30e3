"""Proof that a SynthME label lives in motion, not in appearance.

Two identical linear classifiers (standardise, then logistic regression), evaluated with
leave-one-subject-out (LOSO) and UF1 (macro F1 over predictions pooled across folds):

- *appearance*: the apex frame's grey pixels, downsampled. A single frame shows who the person
  is, their skin, glasses and lighting, all independent of the class, plus a sub-pixel
  expression that cannot be seen without a reference. It must stay near chance.
- *motion*: the same classifier on the onset -> apex change: by default OpenCV's Farneback
  optical flow (u, v), or the grey difference apex - onset. It must do clearly better.

If appearance alone predicts the class, the generator leaks the label. Works on any dataset in
the CASME II layout with a coding sheet (SynthME writes one), so the benchmark can reuse it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from mewb.synth.generator import SHEET_NAME


def _grey(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise FileNotFoundError(f"{path}: missing or not a readable image")
    return image


def clip_features(root: str | Path, size: int = 16) -> dict:
    """Read every clip's onset and apex frames and build the three feature sets.

    Returns a dict of ``appearance``, ``difference``, ``flow`` ((N, F) float32),
    ``labels`` ((N,) int, class index in sorted emotion-word order unless the sheet's words are
    SynthME's own) and ``subjects`` ((N,) int).
    """
    import pandas as pd

    from mewb.synth.emotions import CLASSES

    root = Path(root)
    sheet = pd.read_excel(root / SHEET_NAME)
    words = sorted(sheet["Estimated Emotion"].unique())
    for names in CLASSES.values():
        if set(words) <= set(names):
            words = list(names)
            break
    appearance, difference, flow, labels, subjects = [], [], [], [], []
    for row in sheet.itertuples(index=False):
        folder = root / f"sub{int(row.Subject):02d}" / row.Filename
        onset = _grey(folder / f"img{int(row.OnsetFrame)}.jpg")
        apex = _grey(folder / f"img{int(row.ApexFrame)}.jpg")

        def small(a: np.ndarray) -> np.ndarray:
            return cv2.resize(a, (size, size), interpolation=cv2.INTER_AREA).ravel()

        appearance.append(small(apex.astype(np.float32)))
        difference.append(small(apex.astype(np.float32) - onset.astype(np.float32)))
        uv = cv2.calcOpticalFlowFarneback(onset, apex, None, 0.5, 2, 9, 3, 5, 1.1, 0)  # (H, W, 2)
        flow.append(np.concatenate([small(uv[..., 0]), small(uv[..., 1])]))
        labels.append(words.index(row[6]))  # "Estimated Emotion" (7th column)
        subjects.append(int(row.Subject))
    return {"appearance": np.array(appearance, np.float32), "difference": np.array(difference, np.float32),
            "flow": np.array(flow, np.float32), "labels": np.array(labels), "subjects": np.array(subjects),
            "class_names": words}


def loso_uf1(features: np.ndarray, labels: np.ndarray, subjects: np.ndarray, C: float = 0.1) -> float:
    """UF1 of a standardised logistic regression under leave-one-subject-out.

    Scaling is fitted on the training subjects of each fold only (never on the test subject).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import LeaveOneGroupOut, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000))
    pred = cross_val_predict(model, features, labels, groups=subjects, cv=LeaveOneGroupOut())
    return float(f1_score(labels, pred, average="macro"))


def appearance_vs_motion(root: str | Path, size: int = 16) -> dict[str, float]:
    """LOSO UF1 of the appearance-only and the two motion classifiers on a dataset on disk.

    Returns ``{"appearance": ..., "difference": ..., "flow": ..., "chance": 1/classes}``.
    """
    f = clip_features(root, size)
    out = {name: loso_uf1(f[name], f["labels"], f["subjects"]) for name in ("appearance", "difference", "flow")}
    out["chance"] = 1.0 / len(f["class_names"])
    return out
