"""Run directories as tables for reports: training histories, per-fold scores, the ablation
table and provenance. Every file is read through :mod:`mewb.rundir`; runs are
:class:`mewb.rundir.RunResult` objects (``load_run``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from mewb.rundir import METRICS as METRICS_FILE
from mewb.rundir import RunDir, distinct_labels

METRICS = ("accuracy", "uf1", "uar")
METRIC_LABELS = {"accuracy": "accuracy", "uf1": "UF1", "uar": "UAR"}


def find_runs(runs_dir: str | Path, names: Sequence[str] | str | None = None) -> list[Path]:
    """Finished run directories (with ``metrics.json``) under ``runs_dir``.

    ``names``: run folder names to keep, in that order (a list or a comma-separated string); a
    name that is missing or unfinished raises ``FileNotFoundError``. ``None``/empty: all, by name.
    """
    runs_dir = Path(runs_dir)
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if names:
        missing = [n for n in names if not (runs_dir / n / METRICS_FILE).is_file()]
        if missing:
            raise FileNotFoundError(f"no finished run {missing} in {runs_dir} (a run is finished when it has metrics.json)")
        return [runs_dir / n for n in names]
    return sorted(p.parent for p in runs_dir.glob(f"*/{METRICS_FILE}"))


def fold_records(run_dir: str | Path) -> list[dict]:
    """Every ``fold.json`` of a run (fold name, selected epoch, history, seconds, device...)."""
    return RunDir.open(run_dir).fold_records()


def histories(run_dir: str | Path) -> pd.DataFrame:
    """One row per fold and epoch: ``fold``, ``epoch``, ``loss``, ``lr``, ``seconds``, and
    ``val_*``/``test_*`` scores where the selection protocol computed them; ``selected`` marks
    the epoch whose weights were kept."""
    rows = []
    for record in fold_records(run_dir):
        for entry in record.get("history", []):
            rows.append({"fold": record["fold"], **entry, "selected": entry.get("epoch") == record.get("selected_epoch")})
    return pd.DataFrame(rows)


def fold_table(run) -> pd.DataFrame:
    """Per-fold scores of a ``RunResult`` with each fold's selected epoch and training time."""
    extra = {r["fold"]: r for r in fold_records(run.run_dir)}
    rows = []
    for fold, s in run.metrics.get("per_fold", {}).items():
        record = extra.get(fold, {})
        rows.append({"fold": fold, "n": s.get("n"), **{METRIC_LABELS[m]: s.get(m) for m in METRICS},
                     "selected epoch": record.get("selected_epoch"), "seconds": record.get("seconds"),
                     "device": record.get("device")})
    return pd.DataFrame(rows)


def run_label(run) -> str:
    """``variant`` (plus ``[leaky]`` when the epoch was chosen on the test subject)."""
    label = run.config.variant
    return f"{label} [leaky]" if run.metrics.get("leaky") else label


def run_labels(runs: Iterable) -> list[str]:
    """:func:`run_label` of each run, with its folder's name where two runs share a label
    (:func:`mewb.rundir.distinct_labels`), the names the localisation table uses too."""
    runs = list(runs)
    return distinct_labels([run_label(run) for run in runs], [run.run_dir for run in runs])


def ablation_table(runs: Iterable) -> pd.DataFrame:
    """One row per run and dataset slice: variant, protocol, dataset, n, accuracy, UF1, UAR.

    The pooled row of each run comes first (slice ``all``); per-dataset rows follow when a run
    spans more than one dataset (the MEGC2019 composite).
    """
    runs = list(runs)
    rows = []
    for run, label in zip(runs, run_labels(runs)):
        m = run.metrics
        dataset = run.config.dataset.name
        slices = [("all", m["pooled"])]
        if len(m.get("per_dataset", {})) > 1:
            slices += list(m["per_dataset"].items())
        for name, s in slices:
            rows.append({"variant": label, "selection": m.get("protocol", ""),
                         "dataset": dataset if name == "all" else name, "n": s.get("n"),
                         **{METRIC_LABELS[k]: s.get(k) for k in METRICS}})
    return pd.DataFrame(rows)


def score_decimals(n: int) -> int:
    """Decimals a score over ``n`` clips supports: the last digit shown is no finer than the
    largest standard error of a proportion, ``0.5 / sqrt(n)`` (96 clips: 0.05, so 2 decimals;
    10,000 clips: 3). More digits would only show noise."""
    if not n or n < 1:
        return 3
    return max(1, math.ceil(-math.log10(0.5 / math.sqrt(n))))


def score_format(table: pd.DataFrame) -> str:
    """The float format for a scores table (a ``str.format`` pattern), from its smallest ``n``."""
    n = int(table["n"].min()) if "n" in table and len(table) else 0
    return "{:.%df}" % score_decimals(n)


# (variant with the part, variant without it, what the part is) for the ablation sentences
ABLATION_STEPS = (
    ("improved", "baseline", "the improved backbone (grouped convolutions, shuffle, MSCAF) on frames"),
    ("dual", "improved", "the optical-flow stream"),
    ("dual", "flow_only", "the frames stream"),
    ("full", "dual", "CASANet attention and EVM magnification"),
)


def ablation_findings(table: pd.DataFrame, *, num_classes: int = 3) -> list[str]:
    """Sentences that say what an :func:`ablation_table` shows, computed from its pooled rows.

    Every figure comes from the table and every judgement from a rule: a score is "at chance"
    when it is within two standard errors (``se = 0.5 / sqrt(n)``, the largest SE of a proportion
    over ``n`` clips) of ``1 / num_classes``; a difference between two variants is "within what
    the clips can resolve" when it is within two standard errors of a difference
    (``2 * sqrt(2) * se``). Nothing here would still be printed if the numbers changed.
    """
    if table.empty:
        return ["No finished runs to compare."]
    pooled = table.groupby("variant", sort=False).head(1).set_index("variant")  # the "all" slice comes first
    n = int(pooled["n"].min())
    se = 0.5 / math.sqrt(max(n, 1))
    fmt = "{:.%df}" % score_decimals(n)
    signed = "{:+.%df}" % score_decimals(n)
    resolvable = 2 * math.sqrt(2) * se  # two standard errors of a difference of two scores
    uf1 = pooled["UF1"].astype(float)
    out = []
    best, worst = uf1.idxmax(), uf1.idxmin()
    if best == worst:
        out.append(f"{best} scores UF1 {fmt.format(uf1[best])} over {n} test clips.")
    else:
        out.append(f"Highest UF1: {best} ({fmt.format(uf1[best])}); lowest: {worst} ({fmt.format(uf1[worst])}), "
                   f"over {n} test clips each (one standard error is at most {se:.2f}).")
    chance = 1.0 / num_classes
    at_chance = [v for v in uf1.index if abs(uf1[v] - chance) <= 2 * se]
    if at_chance:
        listed = ", ".join(f"{v} ({fmt.format(uf1[v])})" for v in at_chance)
        out.append(f"At chance level (UF1 within two standard errors of {chance:.2f}): {listed}.")
    ranked = uf1.sort_values(ascending=False)
    if len(ranked) > 1 and ranked.iloc[0] - ranked.iloc[1] <= resolvable:
        out.append(f"{ranked.index[0]} and {ranked.index[1]} differ by {signed.format(ranked.iloc[0] - ranked.iloc[1])}, within "
                   f"what {n} clips can resolve: the ranking of the top two is not established by this run.")
    base_names = {v.split(" ")[0]: v for v in uf1.index}  # labels may carry a suffix ("full (seed 1)")
    for with_part, without, what in ABLATION_STEPS:
        if with_part in base_names and without in base_names:
            a, b = uf1[base_names[with_part]], uf1[base_names[without]]
            d = a - b
            verdict = (f"within what the clips can resolve (+-{resolvable:.2f})" if abs(d) <= resolvable
                       else ("a gain" if d > 0 else "a loss"))
            out.append(f"Adding {what} ({without} -> {with_part}) changes UF1 by {signed.format(d)} "
                       f"({fmt.format(b)} -> {fmt.format(a)}): {verdict}.")
    leaky = [v for v in pooled.index if "leaky" in str(pooled.loc[v, "selection"])]
    if leaky:
        out.append(f"{', '.join(leaky)} chose each fold's epoch on its test subject: optimistic by construction, "
                   "not comparable with the other rows.")
    return out


def _bullets(lines: list[str]):
    """Sentences as a Markdown bullet list (a display object for notebooks)."""
    from IPython.display import Markdown

    return Markdown("\n".join(f"- {line}" for line in lines))


def findings_markdown(table: pd.DataFrame, *, num_classes: int = 3):
    """:func:`ablation_findings` as a Markdown bullet list (a display object for notebooks)."""
    return _bullets(ablation_findings(table, num_classes=num_classes))


def localisation_markdown(table: pd.DataFrame):
    """:func:`mewb.explain.evaluate.localisation_findings` as a Markdown bullet list."""
    from mewb.explain.evaluate import localisation_findings

    return _bullets(localisation_findings(table))


def ablation_table_html(runs: Iterable) -> str:
    """:func:`ablation_table` as a plain HTML table, rounded to what its clip count supports, for
    the report index."""
    table = ablation_table(runs)
    if table.empty:
        return "<p>No finished runs.</p>"
    pattern = score_format(table)
    return table.to_html(index=False, float_format=lambda v: pattern.format(v), na_rep="-", border=0)


def provenance(run) -> dict:
    """Where a run came from: variant, dataset, protocol, settings, versions, git SHA, device, time."""
    run_dir = RunDir.open(run.run_dir)
    env = run_dir.environment()
    folds = run_dir.fold_records()
    cfg = run.config
    train, pre = cfg.train, cfg.preprocess
    return {
        "run": str(run.run_dir),
        "variant": cfg.variant,
        "dataset": cfg.dataset.name,
        "samples / subjects": f"{cfg.dataset.samples} / {cfg.dataset.subjects}",
        "protocol": f"{cfg.protocol}, {cfg.selection}",
        "epochs / batch / lr / seed": f"{train.epochs} / {train.batch_size} / {train.lr} / {train.seed}",
        "clip length x size, flow, EVM": f"{pre.clip_length} x {pre.size}, {pre.flow_backend}, {pre.evm}",
        "mewb / git": f"{env.get('mewb')} / {env.get('git_sha')}",
        "python / torch / numpy": f"{env.get('python')} / {env.get('torch')} / {env.get('numpy')}",
        "device / threads": f"{env.get('device')} / {env.get('torch_threads')}",
        "started": env.get("started"),
        "training time (s)": f"{sum(f.get('seconds', 0.0) for f in folds):.1f}",
    }


def provenance_table(runs: Iterable) -> pd.DataFrame:
    """:func:`provenance` of several runs side by side: one column per run."""
    runs = list(runs)
    records = {label: provenance(run) for run, label in zip(runs, run_labels(runs))}
    return pd.DataFrame(records).rename_axis("").reset_index()
