"""``mewb report`` / ``mewb demo``: train the ablation variants through notebooks and publish a report.

    reports/<name>/
      index.html                     the ablation table and links to every page
      report.json                    what the index lists: title, created, dataset, variants, pages
      01-micro-expressions-tour.{ipynb,html}
      10-train-<variant>.{ipynb,html}   one per variant (runs LOSO)
      20-ablation-report.{ipynb,html}
      runs/<variant>/                the run directories the pages were made from
    reports/index.html               every report, newest first

A report folder is never overwritten silently: an existing one raises :class:`ReportExistsError`
unless ``overwrite=True`` (``--overwrite``), and the default name is a UTC timestamp, so a second
report never collides with the first.
"""

from __future__ import annotations

import datetime as _dt
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from mewb.reports.execute import NotebookExecutionError, check_kernel, execute_notebook
from mewb.reports.html import export_html
from mewb.reports.index import REPORT_META, ReportEntry, write_index

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
TOUR = "01-micro-expressions-tour"
TRAIN = "10-train-variant"
ABLATION = "20-ablation-report"

# The paper's ablation rows: dense baseline, improved backbone on flow / on frames, both streams,
# and the full model (dual + CASANet + EVM).
DEMO_VARIANTS = ("baseline", "flow_only", "improved", "dual", "full")
QUICK_VARIANTS = ("flow_only", "full")


class ReportExistsError(FileExistsError, ValueError):
    """The report folder exists and overwriting was not asked for."""


@dataclass(frozen=True)
class ReportSettings:
    """What a report trains on and shows. How it trains is the recipe (:mod:`mewb.recipe`):
    ``demo`` by default, ``quick`` for the minutes-long smoke test."""

    recipe: str = "demo"  # named recipe (mewb/recipes/NAME.yaml) or a recipe file
    overrides: tuple[str, ...] = ()  # dotted overrides on top of the recipe (train.epochs=4, ...)
    # SynthME, generated when the dataset folder is absent (mewb.synth.SynthConfig fields)
    synth: dict = field(default_factory=dict)  # defaults: 8 subjects x 12 clips, 128 px
    # Ablation report (20-ablation-report parameters)
    explain: bool = True  # UMAP, saliency gallery and localisation scores (slower)
    clips_per_class: int = 2  # saliency gallery size per class
    localisation_clips: int = 1  # test clips per subject and variant scored for localisation
    # What the report keeps of the fold checkpoints once every page is written (RunDir.store_weights):
    # none (default): figures, predictions and metrics only, the demo report in tens of MB;
    # compact: float16 weights (half of full) for mewb explain / predict / the lab explorer;
    # full: float32 as trained (a demo report is then about 1.7 GB, 1 GB of it the dense baseline).
    weights: str = "none"

    def __post_init__(self) -> None:
        from mewb.rundir import WEIGHTS

        if self.weights not in WEIGHTS:
            raise ValueError(f"unknown weights setting {self.weights!r}; valid: {', '.join(WEIGHTS)}")

    def resolved(self, variant: str):
        """The recipe made concrete for ``variant`` (what notebook 10 trains with)."""
        from mewb.recipe import resolve

        return resolve(variant, self.recipe, self.overrides)

    @classmethod
    def quick(cls) -> "ReportSettings":
        """A report in well under a minute per variant on a laptop CPU: tiny data, one epoch."""
        return cls(recipe="quick", synth=dict(subjects=3, clips_per_subject=6, size=32), clips_per_class=1)


def default_report_name(dataset: str, quick: bool = False) -> str:
    """``YYYYmmdd-HHMMSS-<dataset>[-quick]`` in UTC: sorts by time and never collides in practice."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{dataset}{'-quick' if quick else ''}"


def prepare_report_dir(out: Path, *, overwrite: bool) -> Path:
    """Create ``out`` for a new report; refuse an existing one unless ``overwrite``.

    Overwriting deletes the old folder first, and only when it is a mewb report (has
    ``report.json``) or empty: ``--overwrite`` pointed at some other folder is refused.
    """
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not overwrite:
            raise ReportExistsError(f"{out} already exists; choose another --out (or leave it out for a "
                                    "timestamped name) or pass --overwrite to replace it")
        if not (out / REPORT_META).is_file():
            raise ReportExistsError(f"{out} exists and is not a mewb report (no {REPORT_META}); refusing to delete it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def ensure_synth(root: Path, settings: ReportSettings, log: Callable[[str], None]) -> Path:
    """Generate SynthME at ``root`` unless a dataset is already there (kept, and said so when it
    is not the set this mewb would generate: an older generator or other settings)."""
    from mewb.synth import SynthConfig, generate_dataset
    from mewb.synth.generator import manifest_differences

    config = SynthConfig(**settings.synth)
    if root.is_dir() and any(root.iterdir()):
        differences = manifest_differences(root, config)
        if differences:
            log(f"{root}: kept as it is, but it is not the set this mewb generates ({'; '.join(differences)}); "
                "the README's figures are for a freshly generated one: move the folder away to regenerate it")
        return root
    log(f"generating SynthME ({config.subjects} subjects x {config.clips_per_subject} clips, {config.size} px) in {root}")
    return generate_dataset(root, config)


def _notebook(name: str) -> Path:
    path = NOTEBOOKS / f"{name}.ipynb"
    if not path.is_file():
        raise FileNotFoundError(f"notebook not found: {path} (mewb reports run from a source checkout)")
    return path


def build_report(
    out: str | Path | None = None,
    *,
    dataset: str = "synth",
    root: str | Path | None = None,
    variants: Sequence[str] | None = None,
    quick: bool = False,
    overwrite: bool = False,
    reports_dir: str | Path = "reports",
    settings: ReportSettings | None = None,
    tour: bool = True,
    cache_dir: str | Path | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Train ``variants`` on ``dataset`` through the notebooks and write a report; returns its
    ``index.html``.

    Args:
        out: the report folder (default ``reports_dir/<UTC timestamp>-<dataset>[-quick]``).
        dataset, root: the dataset reader and folder; for ``synth`` the folder defaults to
            ``data/synthme`` (``data/synthme-quick`` with ``quick``) and is generated when absent.
        variants: model variants (default :data:`DEMO_VARIANTS`, :data:`QUICK_VARIANTS` with ``quick``).
        quick: tiny data and the ``quick`` recipe (:meth:`ReportSettings.quick`): checks the pipeline, not the models.
        overwrite: replace an existing report folder (otherwise :class:`ReportExistsError`).
        settings: the recipe and report settings (default from ``quick``).
        tour: include the teaching notebook ``01-micro-expressions-tour``.
        cache_dir: the preprocessing cache (default ``$MEWB_CACHE`` or ``~/.cache/mewb``).
        log: progress lines (default: stderr).

    Raises:
        ReportExistsError: ``out`` exists and ``overwrite`` is false.
        NotebookExecutionError: a notebook failed; the report index (with the failure) and the
            partial notebook are written first.
    """
    from mewb.models import list_models

    say = log or (lambda line: print(line, file=sys.stderr, flush=True))
    settings = settings or (ReportSettings.quick() if quick else ReportSettings())
    variants = list(variants or (QUICK_VARIANTS if quick else DEMO_VARIANTS))
    known = list_models()
    unknown = [v for v in variants if v not in known]
    if unknown:
        raise ValueError(f"unknown variants {unknown}; valid: {', '.join(known)}")
    if root is None:
        if dataset != "synth":
            raise ValueError(f"--root is required for dataset {dataset!r} (only synth is generated)")
        root = Path("data") / ("synthme-quick" if quick else "synthme")
    check_kernel()
    for name in (TOUR, TRAIN, ABLATION):
        _notebook(name)
    out = Path(out) if out is not None else Path(reports_dir) / default_report_name(dataset, quick)
    out = prepare_report_dir(out, overwrite=overwrite).resolve()
    root = Path(root).resolve()
    started_all = time.perf_counter()
    timings: dict[str, float] = {}  # seconds per `make demo` stage, kept in report.json (mewb bench reads them)
    if dataset == "synth":
        started = time.perf_counter()
        ensure_synth(root, settings, say)
        timings["generation_s"] = time.perf_counter() - started
    elif not root.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {root}")

    runs_dir = out / "runs"
    meta = {"dataset": dataset, "data root": str(root), "variants": variants, "quick": quick,
            "command": " ".join(sys.argv) if sys.argv and sys.argv[0].endswith("mewb") else "build_report()",
            **_provenance(), "timings": timings}
    entries: list[ReportEntry] = []

    def run(name: str, stem: str, title: str, description: str, parameters: dict, stage: str) -> None:
        ipynb, html = out / f"{stem}.ipynb", out / f"{stem}.html"
        say(f"running {name}.ipynb -> {ipynb.name} ({', '.join(f'{k}={v}' for k, v in parameters.items() if k in _SHOWN)})")
        entry = ReportEntry(title, None, ipynb.name, description, parameters)
        entries.append(entry)
        started = time.perf_counter()
        try:
            execute_notebook(_notebook(name), ipynb, parameters, cwd=out)
        except NotebookExecutionError as error:
            entry.duration_s = time.perf_counter() - started
            entry.error = f"cell {error.cell_index}: {error.ename}: {error.evalue}"
            write_index(out, entries, _ablation_html(runs_dir, variants), title=_title(dataset, quick), meta=meta)
            raise
        entry.duration_s = time.perf_counter() - started
        timings[stage] = timings.get(stage, 0.0) + entry.duration_s
        started = time.perf_counter()
        export_html(ipynb, html, shared_plotlyjs=True)
        entry.bytes = html.stat().st_size
        timings["html_export_s"] = timings.get("html_export_s", 0.0) + time.perf_counter() - started
        entry.html = html.name

    if tour:
        run(TOUR, TOUR, "A tour of micro-expressions", "what a micro-expression is, flow, strain, EVM, LOSO",
            {"seed": settings.resolved(variants[0]).train.seed}, "tour_s")
    train_params = dict(dataset=dataset, data_root=str(root), runs_dir=str(runs_dir), recipe=settings.recipe,
                        overrides="; ".join(settings.overrides), cache_dir=str(cache_dir or ""))
    for variant in variants:
        run(TRAIN, f"10-train-{variant}", f"Training: {variant}", "learning curves, per-fold scores, confusion matrix",
            {**train_params, "variant": variant, "run_name": variant}, "training_s")
    run(ABLATION, ABLATION, "Ablation report", "ablation table, confusion matrices, errors, features, saliency, provenance",
        dict(runs_dir=str(runs_dir), runs=",".join(variants), data_root=str(root), explain=settings.explain,
             clips_per_class=settings.clips_per_class, localisation_clips=settings.localisation_clips,
             cache_dir=str(cache_dir or "")), "ablation_report_s")
    if settings.explain:  # the explorer a reader of the shared report can use: precomputed, no kernel
        from mewb.reports.explorer_page import explorer_page

        say("writing the offline saliency explorer (30-saliency-explorer.html)")
        started = time.perf_counter()
        page = explorer_page([runs_dir / v for v in variants], out / "30-saliency-explorer.html",
                             clips_per_class=settings.clips_per_class, data_root=root, cache_dir=cache_dir)
        entry = ReportEntry("Saliency explorer", page.name, None,
                            "step through precomputed saliency: variant, clip, method, modality, frame, opacity",
                            {"runs": ",".join(variants), "clips_per_class": settings.clips_per_class},
                            time.perf_counter() - started, bytes=page.stat().st_size)
        entries.append(entry)
        timings["explorer_page_s"] = entry.duration_s
    if settings.weights != "full":
        from mewb.data.cache import format_size
        from mewb.rundir import RunDir

        kept = sum(RunDir.open(runs_dir / v).store_weights(settings.weights) for v in variants
                   if (runs_dir / v / "config.yaml").is_file())
        say(f"weights: {settings.weights} ({format_size(kept)} of checkpoints kept)")
    meta["weights"] = settings.weights
    timings["total_s"] = time.perf_counter() - started_all
    timings.update({k: round(v, 1) for k, v in timings.items()})
    index = write_index(out, entries, _ablation_html(runs_dir, variants), title=_title(dataset, quick), meta=meta)
    say(f"report: {index}")
    return index


_SHOWN = ("variant", "recipe", "overrides", "data_root", "runs")


def _title(dataset: str, quick: bool) -> str:
    return f"mewb ablation report: {dataset}{' (quick smoke test: tiny data, 1 epoch)' if quick else ''}"


def _ablation_html(runs_dir: Path, variants: Sequence[str]) -> str | None:
    """The ablation table of the runs finished so far (None before the first)."""
    from mewb.reports.runs import ablation_table_html
    from mewb.rundir import load_run

    runs = [load_run(runs_dir / v) for v in variants if (runs_dir / v / "metrics.json").is_file()]
    return ablation_table_html(runs) if runs else None


def _provenance() -> dict:
    import platform

    import mewb

    info = {"mewb": getattr(mewb, "__version__", None), "python": platform.python_version()}
    try:
        from mewb.train.provenance import git_sha

        info["git"] = git_sha()
    except ImportError:  # pragma: no cover - training is part of mewb
        pass
    return info
