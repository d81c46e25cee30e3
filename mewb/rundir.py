"""The run directory: the one module that writes and reads it, with its schema.

A run directory is what ``mewb loso`` (and ``crossdataset``, ``train --all-subjects``) writes
and what explaining, predicting, the explorer and the reports read back::

    <run>/
      config.yaml          RunConfig: schema, variant, model kwargs, classes, protocol, dataset
                           identity, folds, train + preprocess settings, execution (recorded)
      environment.json     versions, git SHA, device, threads, executor, host (+ each resume)
      log.txt              plain lines: one per epoch and per fold
      folds/<fold>/        a fold is <dataset>/<subject> under LOSO, all for a final model
        checkpoint.pt      {"state_dict", "selected_epoch", "selection"}, tensors and plain values only
        predictions.csv    this fold's test predictions
        fold.json          history, selected epoch, subjects, checkpoint SHA-256 (written last:
                           a fold is finished when it exists)
      predictions.csv      one row per test sample per fold: fold, dataset, subject, clip, label,
                           pred, prob_0..prob_{K-1}
      metrics.json         pooled accuracy/UF1/UAR, per fold, per dataset, confusion matrix
      megc_log.txt         MEGC2019-style per-subject log

Rules kept here and nowhere else:

- an existing directory is never overwritten (:class:`RunExistsError`); ``resume=True`` reopens
  it only when the stored experiment equals the new one (everything but ``execution``);
- ``config.yaml`` is read strictly: a missing or unknown key is an error naming the file and the
  key (an older or foreign directory is refused, never guessed at);
- checkpoints load with ``torch.load(weights_only=True)`` (a directory from someone else must not
  run code) and are checked against the SHA-256 recorded in ``fold.json``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import pandas as pd
import yaml

from mewb import jsonio
from mewb.atomic import atomic_write
from mewb.data.preprocess import PreprocessConfig
from mewb.train.config import TrainConfig
from mewb.train.executors import Execution

SCHEMA = 1  # bump when the layout or a key changes meaning; older directories are then refused
CONFIG = "config.yaml"
LOCK = ".mewb.lock"  # held while a process trains into the run (run_lock)
ENVIRONMENT = "environment.json"
LOG = "log.txt"
METRICS = "metrics.json"
PREDICTIONS = "predictions.csv"
MEGC_LOG = "megc_log.txt"
FOLDS = "folds"
CHECKPOINT = "checkpoint.pt"
FOLD_RECORD = "fold.json"  # written last: the "fold finished" marker
WEIGHTS = ("full", "compact", "none")  # how a run keeps its fold checkpoints (RunDir.store_weights)
PREDICTION_COLUMNS = ["fold", "dataset", "subject", "clip", "label", "pred"]
ID_COLUMNS = {"fold": str, "dataset": str, "subject": str, "clip": str}  # ids stay text ("006" is not 6)
PROTOCOLS = ("loso", "dataset-holdout", "cross-dataset", "all-subjects")
UNRECORDED_EXECUTION = ("progress",)  # console choices of one session, not how the run computed


class RunExistsError(FileExistsError, ValueError):
    """The run directory already exists and ``resume`` was not asked for."""


class RunDirError(ValueError):
    """A run directory (or one of its files) that mewb cannot read or trust; names the file."""


@dataclass(frozen=True)
class DatasetIdentity:
    """Which data a run was trained and tested on (``config.yaml`` section ``dataset``)."""

    name: str  # the reader's name (synth, casme2, composite, ...), or NAME+NAME-to-NAME cross-dataset
    root: str | None = None  # the folder it was read from (NAME=DIR;... for several datasets)
    samples: int = 0
    subjects: int = 0
    class_names: tuple[str, ...] = ()
    samples_sha256: str = ""  # over every sample's key and label: resuming on other data is refused

    def to_dict(self) -> dict:
        return {"name": self.name, "root": self.root, "samples": self.samples, "subjects": self.subjects,
                "class_names": list(self.class_names), "samples_sha256": self.samples_sha256}


@dataclass(frozen=True)
class RunConfig:
    """Everything ``config.yaml`` records: what a run computes, plus how it was executed."""

    variant: str
    num_classes: int
    protocol: str  # one of PROTOCOLS
    dataset: DatasetIdentity
    train: TrainConfig = field(default_factory=TrainConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    execution: Execution = field(default_factory=Execution)  # recorded, not compared on resume
    folds: tuple[str, ...] = ()
    model_kwargs: dict = field(default_factory=dict)
    schema: int = SCHEMA

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {self.protocol!r}; valid: {', '.join(PROTOCOLS)}")

    @property
    def selection(self) -> str:
        """The model-selection label written next to every score (``fixed epochs``, ...)."""
        return self.train.protocol

    @property
    def class_names(self) -> list[str]:
        """The dataset's class names, or ``class 0..K-1`` when the run does not record them."""
        names = list(self.dataset.class_names)
        return names if len(names) == self.num_classes else [f"class {k}" for k in range(self.num_classes)]

    def to_dict(self) -> dict:
        return {
            "schema": self.schema,
            "variant": self.variant,
            "model_kwargs": dict(self.model_kwargs),
            "num_classes": self.num_classes,
            "protocol": self.protocol,
            "selection": self.selection,
            "dataset": self.dataset.to_dict(),
            "folds": list(self.folds),
            "train": self.train.to_dict(),
            "preprocess": self.preprocess.to_dict(),
            "execution": {k: v for k, v in self.execution.to_dict().items() if k not in UNRECORDED_EXECUTION},
        }

    def identity(self) -> dict:
        """What defines the experiment (compared on resume): all but ``execution`` and the fold subset."""
        doc = self.to_dict()
        return {"variant": doc["variant"], "model_kwargs": doc["model_kwargs"], "num_classes": doc["num_classes"],
                "protocol": doc["protocol"], "train": doc["train"], "preprocess": doc["preprocess"],
                "samples": doc["dataset"]["samples_sha256"]}

    @classmethod
    def from_dict(cls, doc: dict, *, source: str = CONFIG) -> "RunConfig":
        """Strictly: a missing or unknown key raises :class:`RunDirError` naming ``source`` and the key."""
        if not isinstance(doc, dict):
            raise RunDirError(f"{source}: not a run config (a YAML mapping), got {type(doc).__name__}")
        required = {"schema", "variant", "num_classes", "protocol", "dataset", "train", "preprocess"}
        optional = {"execution", "folds", "model_kwargs", "selection"}
        missing = sorted(required - set(doc))
        unknown = sorted(set(doc) - required - optional)
        if missing or unknown:
            what = "; ".join(filter(None, [missing and f"missing key(s) {missing}", unknown and f"unknown key(s) {unknown}"]))
            hint = " (written by another mewb version, or not a mewb run)" if "schema" in missing else ""
            raise RunDirError(f"{source}: {what}{hint}; a run config has {sorted(required | optional)}")
        if doc["schema"] != SCHEMA:
            raise RunDirError(f"{source}: schema {doc['schema']!r}, this mewb reads schema {SCHEMA}")
        try:
            dataset = _strict(DatasetIdentity, doc["dataset"], "dataset")
            dataset = DatasetIdentity(**{**dataset.__dict__, "class_names": tuple(dataset.class_names or ())})
            config = cls(
                variant=str(doc["variant"]),
                num_classes=int(doc["num_classes"]),
                protocol=doc["protocol"],
                dataset=dataset,
                train=TrainConfig.from_dict(doc["train"] or {}),
                preprocess=PreprocessConfig.from_dict(doc["preprocess"] or {}),
                execution=Execution.from_dict(doc.get("execution") or {}),
                folds=tuple(doc.get("folds") or ()),
                model_kwargs=dict(doc.get("model_kwargs") or {}),
                schema=SCHEMA,
            )
        except (TypeError, ValueError) as error:
            raise RunDirError(f"{source}: {error}") from None
        if "selection" in doc and doc["selection"] != config.selection:
            raise RunDirError(f"{source}: selection {doc['selection']!r} does not match train.selection "
                              f"({config.selection!r})")
        return config

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "RunConfig":
        return cls.from_dict(read_yaml(path), source=str(path))


def _strict(cls, values, section: str):
    if not isinstance(values, dict):
        raise ValueError(f"section {section!r} must be a mapping")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {section} key(s) {unknown}; valid: {sorted(known)}")
    try:
        return cls(**values)
    except TypeError as error:  # a required key is missing
        raise ValueError(f"section {section!r}: {error}") from None


def read_yaml(path: str | Path) -> dict:
    """A YAML mapping from ``path``; a missing file, bad YAML or a non-mapping is one clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found")
    try:
        values = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        first = " ".join(str(error).split())
        raise RunDirError(f"{path}: not valid YAML ({first})") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise RunDirError(f"{path}: expected a YAML mapping, got {type(values).__name__}")
    return values


@dataclass
class RunResult:
    """A finished run: its :class:`RunConfig`, ``metrics`` (metrics.json), pooled ``predictions``."""

    run_dir: Path
    config: RunConfig
    metrics: dict
    predictions: pd.DataFrame

    def table(self) -> str:
        from mewb.train.metrics import format_table

        return format_table(self.metrics, title=f"{self.config.variant} on {self.config.dataset.name}")


def _compact(tensor):
    """A float32 tensor as float16 when every value survives the cast's range; anything else unchanged."""
    import torch

    if not torch.is_tensor(tensor) or tensor.dtype != torch.float32:
        return tensor
    if tensor.numel() and (not torch.isfinite(tensor).all() or tensor.abs().max() > torch.finfo(torch.float16).max):
        return tensor
    return tensor.to(torch.float16)


class RunLockedError(RunDirError):
    """Another process is training into the run directory (its lock is held)."""


@contextlib.contextmanager
def run_lock(path: str | Path):
    """Hold ``<run>/.mewb.lock`` while training into the run ``path`` (created if needed).

    A second ``mewb loso --resume`` of the same run fails at once with :class:`RunLockedError`
    instead of retraining the same folds and interleaving the log. The lock is an OS file lock
    (``filelock``): a killed process releases it, so a stale lock never blocks a resume.
    """
    import filelock

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunDirError(f"{path}: exists and is not a directory; choose another --out")
    fresh = not path.exists()
    path.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(path / LOCK), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise RunLockedError(f"{path}: another mewb process is training this run (lock {path / LOCK}); "
                             "wait for it to finish, or stop it, then --resume") from None
    try:
        yield path
    finally:
        lock.release()
        if fresh and [p.name for p in path.iterdir()] in ([], [LOCK]):  # nothing was written: leave no folder
            (path / LOCK).unlink(missing_ok=True)
            path.rmdir()


class RunDir:
    """One run directory: ``RunDir.create(path, config)`` to write, ``RunDir.open(path)`` to read."""

    def __init__(self, path: str | Path, config: RunConfig) -> None:
        self.path = Path(path)
        self.config = config

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r}, variant={self.config.variant!r})"

    # Creating and opening -----------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | Path, config: RunConfig, *, resume: bool = False) -> "RunDir":
        """A new run directory holding ``config``, or (``resume``) the same experiment reopened.

        Raises :class:`RunExistsError` for a non-empty ``path`` without ``resume``, and
        :class:`RunDirError` when resuming a directory whose stored experiment differs.
        """
        path = cls.check_create(path, config, resume=resume)
        path.mkdir(parents=True, exist_ok=True)
        atomic_write(path / CONFIG, config.to_yaml())
        return cls(path, config)

    @staticmethod
    def check_create(path: str | Path, config: RunConfig, *, resume: bool = False) -> Path:
        """The checks of :meth:`create`, writing nothing (a run checks them before minutes of preprocessing)."""
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise RunDirError(f"{path}: exists and is not a directory; choose another --out")
        if path.is_dir() and any(p.name != LOCK for p in path.iterdir()):
            if not resume:
                raise RunExistsError(f"{path}: run directory exists; choose a new --out or pass --resume to continue it")
            if not (path / CONFIG).is_file():
                raise RunDirError(f"{path}: not a mewb run directory (no {CONFIG}); cannot resume it")
            stored = RunConfig.from_yaml(path / CONFIG)
            diff = [d if not d.startswith("samples:") else
                    "samples: the clips, labels or annotation sheet (onset, apex, offset, frames) differ from those "
                    "the run was trained on (or an earlier mewb started the run)" for d in _differences(stored.identity(), config.identity())]
            if diff:
                raise RunDirError(f"{path}: cannot resume, the experiment differs from the stored one: " + "; ".join(diff))
        return path

    @classmethod
    def open(cls, path: str | Path) -> "RunDir":
        """An existing run directory (finished or not); its ``config.yaml`` is validated."""
        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"{path}: run directory not found")
        if not (path / CONFIG).is_file():
            raise FileNotFoundError(f"{path / CONFIG}: not found; not a mewb run directory (mewb loso --out ...)")
        return cls(path, RunConfig.from_yaml(path / CONFIG))

    # Shortcuts readers use -----------------------------------------------------------------------
    @property
    def variant(self) -> str:
        return self.config.variant

    @property
    def preprocess(self) -> PreprocessConfig:
        return self.config.preprocess

    @property
    def class_names(self) -> list[str]:
        return self.config.class_names

    @property
    def data_root(self) -> Path | None:
        return Path(self.config.dataset.root) if self.config.dataset.root else None

    @property
    def finished(self) -> bool:
        """Whether the run's pooled results (``metrics.json``) exist."""
        return (self.path / METRICS).is_file()

    # Folds ---------------------------------------------------------------------------------------
    def fold_dir(self, fold: str) -> Path:
        return self.path / FOLDS / fold

    def checkpoint_path(self, fold: str) -> Path:
        return self.fold_dir(fold) / CHECKPOINT

    def is_fold_finished(self, fold: str) -> bool:
        return (self.fold_dir(fold) / FOLD_RECORD).is_file()

    def finished_folds(self) -> list[str]:
        """Folds whose ``fold.json`` exists (``synth/sub01``; ``all`` for a final model), sorted."""
        root = self.path / FOLDS
        if not root.is_dir():
            return []
        return sorted(p.parent.relative_to(root).as_posix() for p in root.rglob(FOLD_RECORD))

    def write_fold(self, fold: str, *, state_dict: dict, rows: list[dict], record: dict,
                   selected_epoch: int | None = None, members: list[dict] | None = None) -> None:
        """Checkpoint and predictions first, ``fold.json`` (with the checkpoint's SHA-256) last.

        ``members``: the other models of a seed ensemble (``train.ensemble``), kept in the
        checkpoint beside ``state_dict`` (the first member, which explaining and predicting load).
        """
        import torch

        folder = self.fold_dir(fold)
        folder.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        checkpoint = {"state_dict": state_dict, "selected_epoch": selected_epoch, "selection": self.config.selection}
        if members:
            checkpoint["members"] = members
        torch.save(checkpoint, buffer)
        data = buffer.getvalue()
        atomic_write(folder / CHECKPOINT, data)
        atomic_write(folder / PREDICTIONS, _rows_frame(rows).to_csv(index=False))
        meta = {"fold": fold, "selection": self.config.selection, "selected_epoch": selected_epoch, **record,
                "checkpoint_sha256": hashlib.sha256(data).hexdigest()}
        atomic_write(folder / FOLD_RECORD, jsonio.dumps(meta, indent=2))

    def store_weights(self, weights: str) -> int:
        """Keep the fold checkpoints as ``weights`` says; returns the bytes they take afterwards.

        ``full``: float32 as trained (nothing changes). ``compact``: every float32 tensor stored as
        float16 where it fits (finite and within float16's range; else kept float32), half the
        size; :meth:`load_state_dict` gives float32 back. ``none``: checkpoints deleted; the fold's
        predictions and records stay, explaining or predicting then says the weights were dropped.
        ``fold.json`` records the choice and the new checksum. Each step is atomic per fold.
        """
        import torch

        if weights not in WEIGHTS:
            raise ValueError(f"unknown weights setting {weights!r}; valid: {', '.join(WEIGHTS)}")
        total = 0
        for fold in self.finished_folds():
            record = self.fold_record(fold)
            path = self.checkpoint_path(fold)
            current = record.get("weights", "full")
            if weights == "full" or current == weights or current == "none":
                total += path.stat().st_size if path.is_file() else 0
                continue
            if weights == "compact":
                checkpoint = torch.load(io.BytesIO(self.checkpoint_bytes(fold)), map_location="cpu", weights_only=True)
                checkpoint["state_dict"] = {k: _compact(v) for k, v in checkpoint["state_dict"].items()}
                if "members" in checkpoint:
                    checkpoint["members"] = [{k: _compact(v) for k, v in m.items()} for m in checkpoint["members"]]
                buffer = io.BytesIO()
                torch.save(checkpoint, buffer)
                data = buffer.getvalue()
                atomic_write(path, data)
                record.update(weights="compact", checkpoint_sha256=hashlib.sha256(data).hexdigest())
                total += len(data)
            else:  # none: the record first, so a crash leaves a fold that says what it lacks
                self.checkpoint_bytes(fold)  # only a verified fold is turned into a weightless one
                record.update(weights="none", checkpoint_sha256=None)
                atomic_write(self.fold_dir(fold) / FOLD_RECORD, jsonio.dumps(record, indent=2))
                path.unlink()
                continue
            atomic_write(self.fold_dir(fold) / FOLD_RECORD, jsonio.dumps(record, indent=2))
        return total

    def fold_problem(self, fold: str, test_clips: set[tuple[str, str, str]]) -> str | None:
        """Why a finished fold cannot be trusted (None when it can): its checkpoint's checksum
        (unless its weights were dropped on purpose, ``weights: none``), and predictions for
        exactly the ``(dataset, subject, clip)`` it tests."""
        try:
            if self.fold_record(fold).get("weights") != "none":
                self.checkpoint_bytes(fold)
            rows = self.fold_predictions(fold)
        except (OSError, RunDirError) as error:
            return str(error)
        found = set(zip(rows["dataset"], rows["subject"], rows["clip"]))
        if found != test_clips or len(rows) != len(test_clips):
            return (f"{self.fold_dir(fold) / PREDICTIONS} has {len(rows)} rows for {len(found & test_clips)} of its "
                    f"{len(test_clips)} test clips")
        return None

    def fold_record(self, fold: str) -> dict:
        path = self.fold_dir(fold) / FOLD_RECORD
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: not found; fold {fold!r} of {self.path} is not finished") from None
        except json.JSONDecodeError as error:
            raise RunDirError(f"{path}: not valid JSON ({error})") from None

    def fold_records(self) -> list[dict]:
        """Every finished fold's ``fold.json`` (history, selected epoch, seconds, device...)."""
        return [self.fold_record(f) for f in self.finished_folds()]

    def fold_predictions(self, fold: str) -> pd.DataFrame:
        return _read_predictions(self.fold_dir(fold) / PREDICTIONS)

    def checkpoint_bytes(self, fold: str) -> bytes:
        """The fold's checkpoint file, after its SHA-256 matched the one ``fold.json`` recorded."""
        path = self.checkpoint_path(fold)
        if not path.is_file():
            if (self.fold_dir(fold) / FOLD_RECORD).is_file() and self.fold_record(fold).get("weights") == "none":
                raise RunDirError(f"{path}: the weights of this run were not kept (weights: none, to keep a report "
                                  "small); its predictions and metrics are all there. Train it again to explain it "
                                  "or to predict with it")
            raise FileNotFoundError(f"{path}: no checkpoint for fold {fold!r}; folds: {self.finished_folds()}")
        data = path.read_bytes()
        expected = self.fold_record(fold).get("checkpoint_sha256")
        if expected is None:
            raise RunDirError(f"{self.fold_dir(fold) / FOLD_RECORD}: no checkpoint_sha256; cannot verify {path}")
        if hashlib.sha256(data).hexdigest() != expected:
            raise RunDirError(f"{path}: checksum mismatch (the file does not match its checksum in {FOLD_RECORD}: it "
                              "changed after training); mewb loso ... --resume trains the fold again")
        return data

    def load_state_dict(self, fold: str) -> dict:
        """The fold's weights, checked against ``fold.json``'s SHA-256, loaded without running code."""
        import torch

        path = self.checkpoint_path(fold)
        data = self.checkpoint_bytes(fold)
        try:
            checkpoint = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as error:  # truncated, foreign or code-carrying pickles: name the file, whatever torch raised
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise RunDirError(f"{path}: cannot load the checkpoint ({first})") from None
        if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
            raise RunDirError(f"{path}: no 'state_dict' in the checkpoint")
        # compact checkpoints store float16: models compute in float32
        return {k: v.float() if torch.is_tensor(v) and v.dtype == torch.float16 else v
                for k, v in checkpoint["state_dict"].items()}

    def load_model(self, fold: str):
        """The fold's model (the run's variant and kwargs, its weights), in eval mode on the CPU."""
        from mewb.models import create_model

        state = self.load_state_dict(fold)
        model = create_model(self.config.variant, num_classes=self.config.num_classes, **self.config.model_kwargs)
        try:
            model.load_state_dict(state)
        except RuntimeError as error:
            first = str(error).strip().splitlines()[0]
            raise RunDirError(f"{self.checkpoint_path(fold)}: weights do not fit the run's model "
                              f"{self.config.variant!r} ({first})") from None
        return model.eval()

    # Pooled results ------------------------------------------------------------------------------
    def write_results(self, predictions: pd.DataFrame, metrics: dict) -> None:
        """``predictions.csv``, ``metrics.json`` and the MEGC2019 log of the whole run."""
        from mewb.train.metrics import write_megc_log

        atomic_write(self.path / PREDICTIONS, predictions.to_csv(index=False))
        atomic_write(self.path / METRICS, jsonio.dumps(metrics, indent=2))
        write_megc_log(predictions, self.path / MEGC_LOG, protocol=self.config.selection)

    def predictions(self) -> pd.DataFrame:
        """Pooled test predictions, one row per clip (``fold`` names the model that tested it)."""
        path = self.path / PREDICTIONS
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the run has no predictions (unfinished? continue it with --resume)")
        return _read_predictions(path)

    def metrics(self) -> dict:
        path = self.path / METRICS
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not found (unfinished run? continue it with --resume)")
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise RunDirError(f"{path}: not valid JSON ({error})") from None

    def result(self) -> RunResult:
        return RunResult(run_dir=self.path, config=self.config, metrics=self.metrics(), predictions=self.predictions())

    def fold_of(self) -> dict[tuple[str, str, str], str]:
        """``(dataset, subject, clip) -> fold`` that tested the clip, from ``predictions.csv``."""
        p = self.predictions()
        return dict(zip(zip(p["dataset"], p["subject"], p["clip"]), p["fold"]))

    # Provenance ----------------------------------------------------------------------------------
    def environment(self) -> dict:
        path = self.path / ENVIRONMENT
        if not path.is_file():
            return {}
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise RunDirError(f"{path}: not valid JSON ({error})") from None

    def record_environment(self, env: dict) -> None:
        """Write ``environment.json``; a resumed run keeps the first session's record and appends."""
        previous = self.environment()
        if previous:
            env = {**previous, "resumed": previous.get("resumed", []) + [env]}
        atomic_write(self.path / ENVIRONMENT, jsonio.dumps(env, indent=2))

    @property
    def log_path(self) -> Path:
        return self.path / LOG


def load_run(path: str | Path) -> RunResult:
    """A finished run directory back as a :class:`RunResult`."""
    return RunDir.open(path).result()


def is_run_dir(path: str | Path) -> bool:
    return (Path(path) / CONFIG).is_file()


def _rows_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    return pd.DataFrame(columns=PREDICTION_COLUMNS) if frame.empty else frame


def _read_predictions(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype=ID_COLUMNS)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as error:
        raise RunDirError(f"{path}: not a predictions table ({type(error).__name__}: {error})") from None
    missing = [c for c in PREDICTION_COLUMNS if c not in frame.columns]
    if missing:
        raise RunDirError(f"{path}: missing column(s) {missing}")
    return frame


def _differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            out += _differences(x, y, f"{prefix}{key}.")
        elif x != y:
            out.append(f"{prefix}{key}: {x!r} (run) != {y!r} (now)")
    return out


def distinct_labels(labels: Sequence[str], run_dirs: Sequence[str | Path]) -> list[str]:
    """``labels`` of runs (a variant each), with the run folder's name added to each label that
    more than one run carries: ``["full", "full"]`` -> ``["full (full-seed0)", "full (full-seed1)"]``.
    Tables keyed by these never merge two runs into one row."""
    return [label if list(labels).count(label) == 1 else f"{label} ({Path(run_dir).name})"
            for label, run_dir in zip(labels, run_dirs)]

