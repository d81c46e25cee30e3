"""What the ``mewb loso`` and ``mewb crossdataset`` verbs do, kept out of ``cli.py``.

Settings are layered, later wins: defaults < ``--config file.yaml`` (sections ``train`` and
``preprocess``, e.g. a previous run's ``config.yaml``) < the stored ``config.yaml`` of the run
being resumed < flags given on the command line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from mewb.train.config import TrainConfig, load_yaml

# CLI flag -> TrainConfig field (flags default to None = "not given")
TRAIN_FLAGS = {"epochs": "epochs", "batch_size": "batch_size", "lr": "lr", "device": "device", "seed": "seed",
               "num_workers": "num_workers", "loss": "loss", "sampler": "sampler", "selection": "selection"}
PREPROCESS_FLAGS = {"frames": "frames", "size": "size", "sampling": "sampling", "flow_backend": "flow_backend",
                    "flow_mode": "flow_mode", "flow_size": "flow_size", "stabilise": "flow_stabilise"}


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by ``loso`` and ``crossdataset``."""
    p.add_argument("--variant", default=None, help="model variant (mewb models lists them); default full")
    p.add_argument("--out", required=True, help="run directory (never overwritten; see --resume)")
    p.add_argument("--config", default=None, help="YAML with 'train' and 'preprocess' sections (a run's config.yaml works)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out, skipping finished folds")
    p.add_argument("--epochs", type=int, default=None, help="training epochs per fold")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None, help="AdamW peak learning rate")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", default=None, help="auto (default) | cpu | cuda")
    p.add_argument("--num-workers", type=int, default=None, help="DataLoader workers per fold")
    p.add_argument("--loss", choices=["ce", "focal"], default=None)
    p.add_argument("--sampler", choices=["shuffle", "balanced"], default=None)
    p.add_argument("--selection", choices=["fixed", "inner-val"], default=None,
                   help="fixed epochs (default) or early stopping on a validation split of training subjects")
    p.add_argument("--leaky-select-on-test", action="store_true",
                   help="choose the epoch on the TEST subject (inflated numbers; recorded as 'test-selected (leaky)')")
    p.add_argument("--frames", type=int, default=None, help="clip length T")
    p.add_argument("--size", type=int, default=None, help="face crop side in pixels")
    p.add_argument("--sampling", default=None, help="frames entering a clip: uniform | interpolate | apex_window | onset_apex")
    p.add_argument("--flow-backend", default=None, help="optical flow backend (tvl1, farneback, dis, liteflownet)")
    p.add_argument("--flow-mode", default=None, help="onset | consecutive | onset_apex (one onset->apex flow)")
    p.add_argument("--flow-size", type=int, default=None,
                   help="compute flow on frames this large, then area-resize it to --size (keeps sub-pixel motion)")
    p.add_argument("--stabilise", action="store_true", default=None,
                   help="subtract each flow field's affine part (head translation, rotation, scale)")
    p.add_argument("--cache", default=None, help="preprocessing cache folder (default $MEWB_CACHE or ~/.cache/mewb)")
    p.add_argument("--executor", choices=["inprocess", "process", "dask"], default="inprocess",
                   help="where folds run (default: here, one after another)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address tcp://HOST:PORT (--executor dask)")
    p.add_argument("--workers", type=int, default=None, help="process-pool or local Dask workers")
    p.add_argument("--no-progress", action="store_true", help="no progress bars or lines (the log file is still written)")


def resolve_configs(args: argparse.Namespace):
    """``(variant, TrainConfig, PreprocessConfig, stored)`` from the layers described above."""
    from mewb.data.preprocess import PreprocessConfig

    train: dict = {}
    preprocess: dict = {}
    variant = None
    stored: dict = {}
    if args.config:
        values = load_yaml(Path(args.config))
        if "train" in values or "preprocess" in values:
            train.update(values.get("train") or {})
            preprocess.update(values.get("preprocess") or {})
            variant = values.get("variant")
        else:
            train.update(values)
    stored_path = Path(args.out) / "config.yaml"
    if args.resume and stored_path.is_file():
        stored = yaml.safe_load(stored_path.read_text()) or {}
        train.update(stored.get("train") or {})
        preprocess.update(stored.get("preprocess") or {})
        variant = stored.get("variant", variant)
    for flag, name in TRAIN_FLAGS.items():
        value = getattr(args, flag, None)
        if value is not None:
            train[name] = value
    if args.leaky_select_on_test:
        if args.selection:
            raise ValueError("--leaky-select-on-test and --selection exclude each other")
        train["selection"] = "test-leaky"
    for flag, name in PREPROCESS_FLAGS.items():
        value = getattr(args, flag, None)
        if value is not None:
            preprocess[name] = value
    variant = args.variant or variant or "full"
    return variant, TrainConfig.from_dict(train), PreprocessConfig.from_dict(preprocess), stored


def _read(name: str, root: str):
    from mewb.data.readers import class_names, read_dataset

    samples, _report = read_dataset(name, root)
    if not samples:
        raise ValueError(f"dataset {name!r} at {root}: no samples")
    return samples, class_names(name, samples)


def run_common(args: argparse.Namespace) -> dict:
    return dict(
        out=args.out,
        resume=args.resume,
        executor=args.executor,
        scheduler=args.scheduler,
        workers=args.workers,
        cache_root=args.cache,
        progress=not args.no_progress,
    )


def loso_command(args: argparse.Namespace) -> int:
    from mewb.train.loso import run_holdout, run_loso

    if args.scheduler and args.executor != "dask":
        raise ValueError("--scheduler needs --executor dask")
    variant, train, preprocess, stored = resolve_configs(args)
    name = args.dataset or stored.get("dataset", {}).get("name")
    root = args.root or stored.get("dataset", {}).get("root")
    if not name or not root:
        raise ValueError("--dataset and --root are required (unless --resume finds them in the run's config.yaml)")
    samples, classes = _read(name, root)
    common = dict(variant=variant, train_config=train, preprocess_config=preprocess, dataset_name=name,
                  dataset_root=root, class_names=classes, **run_common(args))
    if args.protocol == "dataset-holdout":
        result = run_holdout(samples, **common)
    else:
        folds = [f.strip() for f in args.folds.split(",") if f.strip()] if args.folds else None
        result = run_loso(samples, folds=folds, **common)
    print(result.table())
    print(f"run directory: {result.run_dir}")
    return 0


def _named_roots(values: list[str], flag: str) -> list[tuple[str, str]]:
    out = []
    for value in values:
        name, sep, root = value.partition("=")
        if not sep or not name or not root:
            raise ValueError(f"{flag} takes NAME=DIR (e.g. casme2=/data/CASME2), got {value!r}")
        out.append((name, root))
    return out


def crossdataset_command(args: argparse.Namespace) -> int:
    from mewb.data.readers import combine_datasets
    from mewb.train.loso import run_holdout

    variant, train, preprocess, _stored = resolve_configs(args)
    sources = _named_roots(args.train, "--train")
    targets = _named_roots(args.test, "--test")
    parts = [(name, _read(name, root)[0]) for name, root in sources + targets]
    samples, classes, dropped = combine_datasets(parts)
    if dropped:
        print("labels mapped to the MEGC2019 classes (negative, positive, surprise); dropped: "
              + ", ".join(f"{n} {k} clips" for n, k in dropped.items()), flush=True)
    result = run_holdout(
        samples,
        train_datasets=[n for n, _ in sources],
        test_datasets=[n for n, _ in targets],
        variant=variant,
        train_config=train,
        preprocess_config=preprocess,
        dataset_name="+".join(n for n, _ in sources) + "-to-" + "+".join(n for n, _ in targets),
        dataset_root=";".join(f"{n}={r}" for n, r in sources + targets),
        class_names=classes,
        **run_common(args),
    )
    print(result.table())
    print(f"run directory: {result.run_dir}")
    return 0
