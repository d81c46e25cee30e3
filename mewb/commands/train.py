"""``mewb loso``, ``mewb crossdataset`` and ``mewb train --all-subjects``: arguments to library calls.

Settings come from a recipe (``--recipe``, :mod:`mewb.recipe`) and overrides, later wins: library
defaults < variant defaults < recipe < ``--set SECTION.KEY=VALUE`` and the shorthand flags below
(``--epochs 4`` is ``--set train.epochs=4``). With ``--resume`` and no ``--recipe``, the run's
own ``config.yaml`` is the recipe.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mewb.commands.common import add_deprecated, add_recipe_arguments

# shorthand flag (argparse dest) -> the setting it overrides
SHORTHANDS = {
    "epochs": "train.epochs", "batch_size": "train.batch_size", "lr": "train.lr", "seed": "train.seed",
    "loss": "train.loss", "sampler": "train.sampler", "selection": "train.selection", "precision": "train.precision",
    "memory_format": "train.memory_format",
    "clip_length": "preprocess.clip_length", "size": "preprocess.size", "sampling": "preprocess.sampling",
    "flow_backend": "preprocess.flow_backend", "flow_mode": "preprocess.flow_mode",
    "flow_size": "preprocess.flow_size", "stabilise": "preprocess.flow_stabilise",
    "device": "execution.device", "loader_workers": "execution.loader_workers", "executor": "execution.executor",
    "scheduler": "execution.scheduler", "workers": "execution.workers", "cache_dir": "execution.cache_dir",
    "init": "train.init", "ensemble": "train.ensemble", "tta": "train.tta",
}


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by ``loso`` and ``crossdataset``."""
    p.add_argument("--variant", default=None, help="model variant (mewb models lists them); default: the recipe's, else full")
    p.add_argument("--out", required=True, help="run directory (never overwritten; see --resume)")
    add_recipe_arguments(p)
    p.add_argument("--resume", action="store_true", help="continue the run in --out, skipping finished folds")
    g = p.add_argument_group("shorthands for --set (each overrides the recipe)")
    g.add_argument("--epochs", type=int, default=None, help="train.epochs: training epochs per fold")
    g.add_argument("--batch-size", type=int, default=None, help="train.batch_size")
    g.add_argument("--lr", type=float, default=None, help="train.lr: AdamW peak learning rate")
    g.add_argument("--seed", type=int, default=None, help="train.seed")
    g.add_argument("--loss", choices=["ce", "focal"], default=None, help="train.loss")
    g.add_argument("--sampler", choices=["shuffle", "balanced"], default=None, help="train.sampler")
    g.add_argument("--selection", choices=["fixed", "inner-val"], default=None,
                   help="train.selection: fixed epochs or early stopping on a validation split of training subjects")
    g.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default=None,
                   help="train.precision: auto = bf16 on CPUs with AMX/AVX512-BF16, fp16 autocast on CUDA, else fp32")
    g.add_argument("--memory-format", choices=["contiguous", "channels_last"], default=None,
                   help="train.memory_format: channels_last is oneDNN's and cuDNN's own layout (faster for "
                        "grouped convolutions on small inputs; same numbers up to rounding)")
    g.add_argument("--init", default=None, metavar="RUN",
                   help="train.init: start every fold from this pretraining run's weights (mewb pretrain)")
    g.add_argument("--ensemble", type=int, default=None, metavar="K",
                   help="train.ensemble: K models per fold (seeds seed..seed+K-1), class probabilities averaged")
    g.add_argument("--tta", choices=["none", "flip"], default=None,
                   help="train.tta: flip = average each test clip with its mirror image (flow u negated)")
    g.add_argument("--leaky-select-on-test", action="store_true",
                   help="choose the epoch on the TEST subject (inflated numbers; recorded as 'test-selected (leaky)')")
    g.add_argument("--clip-length", type=int, default=None, help="preprocess.clip_length: frames per clip T")
    add_deprecated(g, "--frames", "--clip-length", "clip_length", type=int)
    g.add_argument("--size", type=int, default=None, help="preprocess.size: face crop side in pixels; flow images "
                   "(--dataset flowimages) train at their own size unless a recipe or this flag sets one")
    g.add_argument("--sampling", default=None,
                   help="preprocess.sampling: uniform | interpolate | apex_window | onset_apex")
    g.add_argument("--flow-backend", default=None, help="preprocess.flow_backend: tvl1, farneback, dis, liteflownet")
    g.add_argument("--flow-mode", default=None, help="preprocess.flow_mode: onset | consecutive | onset_apex")
    g.add_argument("--flow-size", type=int, default=None,
                   help="preprocess.flow_size: compute flow on frames this large, then area-resize it to --size")
    g.add_argument("--stabilise", action="store_true", default=None,
                   help="preprocess.flow_stabilise: subtract each flow field's affine part (head motion)")
    g.add_argument("--device", default=None, help="execution.device: auto | cpu | cuda | cuda:N")
    g.add_argument("--loader-workers", type=int, default=None, help="execution.loader_workers: DataLoader workers")
    add_deprecated(g, "--num-workers", "--loader-workers", "loader_workers", type=int)
    g.add_argument("--executor", choices=["inprocess", "process", "dask"], default=None,
                   help="execution.executor: where folds run (default: here, one after another)")
    g.add_argument("--scheduler", default=None, help="execution.scheduler: Dask address tcp://HOST:PORT")
    g.add_argument("--workers", type=int, default=None, help="execution.workers: process-pool or local Dask workers")
    g.add_argument("--cache-dir", default=None, help="execution.cache_dir: preprocessing cache folder "
                   "(default $MEWB_CACHE or ~/.cache/mewb)")
    add_deprecated(g, "--cache", "--cache-dir", "cache_dir")
    g.add_argument("--no-progress", action="store_true", help="no progress bars or lines (log.txt is still written)")


def overrides_from(args: argparse.Namespace) -> list[str]:
    """``--set`` values, then the shorthand flags, as ``SECTION.KEY=VALUE`` strings."""
    out = list(getattr(args, "overrides", None) or [])
    for dest, key in SHORTHANDS.items():
        value = getattr(args, dest, None)
        if value is not None:
            out.append(f"{key}={_yaml_scalar(value)}")
    if getattr(args, "leaky_select_on_test", False):
        if getattr(args, "selection", None):
            raise ValueError("--leaky-select-on-test and --selection exclude each other")
        out.append("train.selection=test-leaky")
    if getattr(args, "no_progress", False):
        out.append("execution.progress=false")
    return out


def _yaml_scalar(value) -> str:
    import yaml

    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def loso_command(args: argparse.Namespace) -> int:
    from mewb.train.runner import run_recipe

    folds = [f.strip() for f in args.folds.split(",") if f.strip()] if args.folds else None
    result = run_recipe(dataset=args.dataset, data_root=args.data_root, out=args.out, variant=args.variant,
                        recipe=args.recipe, overrides=overrides_from(args), protocol=args.protocol, folds=folds,
                        resume=args.resume)
    print(result.table())
    print(f"run directory: {result.run_dir}")
    return 0


def pretrain_command(args: argparse.Namespace) -> int:
    from mewb.train.pretrain import pretrain

    result = pretrain(dataset=args.dataset, data_root=args.data_root, out=args.out, variant=args.variant,
                      recipe=args.recipe, overrides=overrides_from(args), resume=args.resume)
    c = result.config
    print(f"pretrained {c.variant} on {c.dataset.samples} clips of {c.dataset.subjects} subjects ({c.dataset.name})")
    print(f"run directory: {result.run_dir}")
    print(f"fine-tune from it: mewb loso --dataset NAME --data-root DIR --variant {c.variant} --init {result.run_dir} "
          "--out runs/NAME")
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
    from mewb.data.readers import combine_datasets, read_dataset
    from mewb.recipe import resolve
    from mewb.train.runner import run_holdout

    resolved = resolve(args.variant, args.recipe, overrides_from(args))
    sources = _named_roots(args.train, "--train")
    targets = _named_roots(args.test, "--test")
    parts = []
    for name, root in sources + targets:
        samples, _report = read_dataset(name, root)
        if not samples:
            raise ValueError(f"dataset {name!r} at {root}: no samples")
        parts.append((name, samples))
    samples, classes, dropped = combine_datasets(parts)
    if dropped:
        print("labels mapped to the MEGC2019 classes (negative, positive, surprise); dropped: "
              + ", ".join(f"{n} {k} clips" for n, k in dropped.items()), flush=True)
    result = run_holdout(
        samples,
        out=args.out,
        train_datasets=[n for n, _ in sources],
        test_datasets=[n for n, _ in targets],
        variant=resolved.variant,
        model_kwargs=resolved.model_kwargs,
        train_config=resolved.train,
        preprocess_config=resolved.preprocess,
        dataset_name="+".join(n for n, _ in sources) + "-to-" + "+".join(n for n, _ in targets),
        data_root=";".join(f"{n}={r}" for n, r in sources + targets),
        class_names=classes,
        execution=resolved.execution,
        resume=args.resume,
    )
    print(result.table())
    print(f"run directory: {result.run_dir}")
    return 0


def add_final_arguments(p: argparse.ArgumentParser) -> None:
    """``mewb train --all-subjects``."""
    p.add_argument("--all-subjects", action="store_true", required=True,
                   help="train on every subject, no held-out fold (the only mode; evaluation is `mewb loso`)")
    p.add_argument("--run-config", required=True, type=Path, help="the LOSO run's config.yaml (or its run directory)")
    p.add_argument("--out", required=True, type=Path, help="new run directory, e.g. runs/NAME-final")
    p.add_argument("--data-root", default=None, help="the dataset folder, if it moved since the run")
    p.add_argument("--device", default=None, help="auto | cpu | cuda (default: the run's)")
    p.add_argument("--cache-dir", default=None, help="preprocessing cache folder (default $MEWB_CACHE or ~/.cache/mewb)")
    add_deprecated(p, "--cache", "--cache-dir", "cache_dir")
    p.add_argument("--no-progress", action="store_true", help="no progress bars or lines")


def final_command(args: argparse.Namespace) -> int:
    from mewb.predict.final import train_final

    run_dir = args.run_config.parent if args.run_config.name == "config.yaml" else args.run_config
    changes = {"progress": not args.no_progress, "cache_dir": args.cache_dir}
    if args.device:
        changes["device"] = args.device
    result = train_final(run_dir, args.out, data_root=args.data_root, execution_changes=changes)
    print(f"final model: {Path(result.run_dir) / 'folds' / 'all' / 'checkpoint.pt'}")
    print(f"use it: mewb predict VIDEO --run {run_dir}")
    return 0
