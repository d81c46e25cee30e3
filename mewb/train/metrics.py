"""Recognition metrics over LOSO predictions: accuracy, UF1, UAR (MEGC2019), per fold and per dataset.

The headline numbers are computed on the predictions *pooled* over all folds, as MEGC2019
defines them: with ``TP_c, FP_c, FN_c, N_c`` counted over every test sample of every fold,

    UF1 = mean_c  2 TP_c / (2 TP_c + FP_c + FN_c)        UAR = mean_c  TP_c / N_c

(averaging per-fold scores instead is a different, noisier number: a LOSO fold often lacks
classes.) These are scikit-learn's ``f1_score(average="macro")`` and
``recall_score(average="macro")`` on the pooled labels; mewb calls scikit-learn rather than
re-implementing them, and the tests cross-check the pooled-count formulas above.

Classes absent from the ground truth. The mean runs over the classes *present in the ground
truth being scored* (``labels=`` the classes with ``N_c > 0``). A class with no test sample has
no recall, and its F1 would be 0 whatever the model does, so counting it would only lower the
score by a constant. Predictions *of* such a class still count: they are misses of the true
class (lower recall and F1 there). The classes left out are listed in ``classes_absent``. The
same rule applies to a fold and to a dataset slice (a fold usually lacks a class or two); a
slice without any sample has no scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score


def scores(labels: Sequence[int], preds: Sequence[int], num_classes: int) -> dict:
    """Accuracy, UF1, UAR, per-class F1/recall, support and confusion matrix of one set of predictions.

    ``labels``, ``preds``: ``(N,)`` class indices in ``[0, num_classes)``. The confusion matrix is
    ``(K, K)`` with rows = true class, columns = predicted class, over all ``K`` classes.
    """
    y = np.asarray(labels, dtype=np.int64)
    p = np.asarray(preds, dtype=np.int64)
    every = list(range(num_classes))
    support = np.bincount(y, minlength=num_classes) if len(y) else np.zeros(num_classes, dtype=np.int64)
    present = [c for c in every if support[c] > 0]
    out: dict = {"n": int(len(y)), "support": support.tolist(), "classes_absent": [c for c in every if support[c] == 0]}
    if not present:
        out.update(accuracy=None, uf1=None, uar=None, f1_per_class=[None] * num_classes,
                   recall_per_class=[None] * num_classes,
                   confusion=np.zeros((num_classes, num_classes), dtype=int).tolist())
        return out
    f1 = f1_score(y, p, labels=every, average=None, zero_division=0)
    recall = recall_score(y, p, labels=every, average=None, zero_division=0)
    out.update(
        accuracy=float(accuracy_score(y, p)),
        uf1=float(f1_score(y, p, labels=present, average="macro", zero_division=0)),
        uar=float(recall_score(y, p, labels=present, average="macro", zero_division=0)),
        f1_per_class=[float(f1[c]) if support[c] else None for c in every],
        recall_per_class=[float(recall[c]) if support[c] else None for c in every],
        confusion=confusion_matrix(y, p, labels=every).tolist(),
    )
    return out


def compute_metrics(predictions: pd.DataFrame, num_classes: int, *, protocol: str, class_names: Sequence[str] = ()) -> dict:
    """``metrics.json`` for a run: pooled scores, per fold, per dataset.

    ``predictions`` has one row per test sample per fold with columns ``fold``, ``dataset``,
    ``subject``, ``clip``, ``label``, ``pred`` (and ``prob_k``). ``protocol`` is the model-selection
    protocol label (``"fixed epochs"``, ..., ``"test-selected (leaky)"``), stored verbatim.
    """
    pooled = scores(predictions["label"], predictions["pred"], num_classes)
    per_fold = {
        str(fold): _brief(scores(group["label"], group["pred"], num_classes))
        for fold, group in predictions.groupby("fold", sort=False)
    }
    per_dataset = {
        str(name): scores(group["label"], group["pred"], num_classes)
        for name, group in predictions.groupby("dataset", sort=True)
    }
    fold_uf1 = [v["uf1"] for v in per_fold.values() if v["uf1"] is not None]
    fold_uar = [v["uar"] for v in per_fold.values() if v["uar"] is not None]
    return {
        "protocol": protocol,
        "leaky": protocol == "test-selected (leaky)",
        "num_classes": num_classes,
        "class_names": list(class_names),
        "folds": len(per_fold),
        "pooled": pooled,
        # Means of per-fold scores, for reference only: not the MEGC2019 number.
        "fold_mean": {
            "uf1": float(np.mean(fold_uf1)) if fold_uf1 else None,
            "uar": float(np.mean(fold_uar)) if fold_uar else None,
        },
        "per_fold": per_fold,
        "per_dataset": per_dataset,
    }


def _brief(s: dict) -> dict:
    return {k: s[k] for k in ("n", "accuracy", "uf1", "uar", "support", "classes_absent")}


def format_table(metrics: dict, *, title: str = "") -> str:
    """A plain-text summary: pooled and per-dataset rows, with the protocol on the header line."""
    protocol = metrics["protocol"]
    label = f"{protocol}  ** LEAKY: epoch chosen on the test subject **" if metrics.get("leaky") else protocol
    lines = [f"{title}  [protocol: {label}]".strip()]
    lines.append(f"{'slice':<16} {'n':>5} {'acc':>7} {'UF1':>7} {'UAR':>7}")

    def row(name: str, s: dict) -> str:
        def f(v):
            return f"{v:7.4f}" if v is not None else "      -"

        return f"{name:<16} {s['n']:>5} {f(s['accuracy'])} {f(s['uf1'])} {f(s['uar'])}"

    lines.append(row("pooled", metrics["pooled"]))
    if len(metrics["per_dataset"]) > 1:
        lines += [row(name, s) for name, s in metrics["per_dataset"].items()]
    if metrics["pooled"]["classes_absent"]:
        lines.append(f"classes absent from the ground truth (left out of UF1/UAR): {metrics['pooled']['classes_absent']}")
    return "\n".join(lines)


def write_megc_log(predictions: pd.DataFrame, path: str | Path, *, protocol: str = "") -> Path:
    """Write the MEGC2019-style per-subject log: each fold's predicted and true labels.

    The challenge asked for a plain-text log listing, for every LOSO subject, the predicted and
    ground-truth labels of its clips, from which organisers recompute UF1/UAR on the pooled
    counts. Format (one block per fold, in run order)::

        # protocol: fixed epochs
        Subject: casme2/sub01
        Clips: EP02_01f EP03_02 ...
        Predicted: 0 2 1 ...
        Ground truth: 0 2 2 ...
    """
    path = Path(path)
    lines = [f"# protocol: {protocol}"] if protocol else []
    for fold, group in predictions.groupby("fold", sort=False):
        lines.append(f"Subject: {fold}")
        lines.append("Clips: " + " ".join(group["clip"].astype(str)))
        lines.append("Predicted: " + " ".join(str(int(v)) for v in group["pred"]))
        lines.append("Ground truth: " + " ".join(str(int(v)) for v in group["label"]))
    path.write_text("\n".join(lines) + "\n")
    return path


def read_megc_log(path: str | Path) -> pd.DataFrame:
    """Parse :func:`write_megc_log`'s output back into rows ``fold, clip, pred, label``."""
    rows: list[dict] = []
    fold = clips = preds = None
    for line in Path(path).read_text().splitlines():
        if line.startswith("Subject: "):
            fold = line.split(": ", 1)[1]
        elif line.startswith("Clips:"):
            clips = line.split(":", 1)[1].split()
        elif line.startswith("Predicted:"):
            preds = [int(v) for v in line.split(":", 1)[1].split()]
        elif line.startswith("Ground truth:"):
            labels = [int(v) for v in line.split(":", 1)[1].split()]
            rows += [{"fold": fold, "clip": c, "pred": p, "label": y} for c, p, y in zip(clips, preds, labels)]
    return pd.DataFrame(rows, columns=["fold", "clip", "pred", "label"])
