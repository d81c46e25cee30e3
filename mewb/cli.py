"""The ``mewb`` command. Every verb parses its arguments and makes one call into the library.

Each verb is a ``_verb_<name>(subparsers)`` function that adds its parser and sets ``func``;
``VERBS`` lists them in ``mewb --help`` order. Heavy imports happen inside the handlers so that
``mewb --help`` stays fast.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def _verb_doctor(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check the installation: versions, device, OpenCV, browser, kernel")

    def run(args: argparse.Namespace) -> int:
        from mewb.doctor import print_report, run_checks

        checks = run_checks()
        print_report(checks)
        return 0 if all(c.ok for c in checks) else 1

    p.set_defaults(func=run)


def _verb_models(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the registered models with parameters and FLOPs")
    p.add_argument("--frames", type=int, default=16, help="clip length T for the FLOP count")
    p.add_argument("--size", type=int, default=112, help="clip height and width for the FLOP count")

    def run(args: argparse.Namespace) -> int:
        from mewb.models.complexity import complexity_table, format_complexity_table

        print(format_complexity_table(complexity_table(frames=args.frames, size=args.size)))
        return 0

    p.set_defaults(func=run)


def _verb_cache(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cache", help="show or clear the preprocessing cache (cropped frames, EVM, flow)")
    from mewb.commands.common import add_deprecated

    p.add_argument("action", choices=["info", "clear"], help="info: entries and size; clear: delete entries")
    p.add_argument("--cache-dir", default=None, help="cache folder (default: $MEWB_CACHE or ~/.cache/mewb)")
    add_deprecated(p, "--root", "--cache-dir", "cache_dir")

    def run(args: argparse.Namespace) -> int:
        from mewb.data.cache import PreprocessCache, format_info

        cache = PreprocessCache(args.cache_dir)
        if args.action == "clear":
            print(f"{cache.root}: removed {cache.clear()} entries")
        else:
            print(format_info(cache.info()))
        return 0

    p.set_defaults(func=run)


def _verb_recipe(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recipe", help="list the named recipes, or print one resolved for a variant (what a run would use)")
    p.add_argument("name", nargs="?", default=None, help="a named recipe, a recipe YAML or a run's config.yaml")
    p.add_argument("--variant", default=None, help="resolve for this variant (default: the recipe's, else full)")
    from mewb.commands.common import add_recipe_arguments

    add_recipe_arguments(p)

    def run(args: argparse.Namespace) -> int:
        import yaml

        from mewb.recipe import list_recipes, recipe_path, resolve

        name = args.name or args.recipe
        if name is None and not args.overrides:
            for recipe in list_recipes():
                print(f"{recipe:10s} {recipe_path(recipe)}")
            return 0
        resolved = resolve(args.variant, name, args.overrides)
        print(f"# recipe {resolved.recipe} for variant {resolved.variant}; where each value comes from:")
        doc = resolved.to_dict()
        for section in ("train", "preprocess", "execution"):
            for key in doc[section]:
                origin = resolved.sources[f"{section}.{key}"]
                if origin != "default":
                    print(f"#   {section}.{key}: {origin}")
        print(yaml.safe_dump(doc, sort_keys=False), end="")
        return 0

    p.set_defaults(func=run)


def _verb_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="read a dataset and summarise it: samples, subjects, classes, fps, skips")
    p.add_argument("--dataset", required=True, help="casme2, samm, smic, composite, flowimages or synth")
    from mewb.commands.common import add_deprecated

    p.add_argument("--data-root", type=Path, default=None, help="the dataset folder, in its published layout")
    add_deprecated(p, "--root", "--data-root", "data_root", type=Path)
    p.add_argument("--strict", action="store_true", help="stop at the first bad sample instead of listing skips")
    p.add_argument("--gt", type=Path, default=None, help="composite: the MEGC ground truth combined_3class_gt.csv")
    p.add_argument("--manifest", type=Path, default=None, help="flowimages: the CSV manifest (default: the one *.csv)")
    p.add_argument("--modality", default=None, help="smic: HS (default), VIS or NIR")
    p.add_argument("--layout", default=None, help="casme2: auto (default), raw, cropped or root")

    def run(args: argparse.Namespace) -> int:
        import warnings

        from mewb.data.common import DatasetWarning
        from mewb.data.readers import read_dataset, summarize

        if args.data_root is None:
            raise ValueError("--data-root is required: the dataset folder, in its published layout")
        names = {"gt": "gt_csv", "manifest": "manifest", "modality": "modality", "layout": "layout"}
        options = {ours: getattr(args, flag) for flag, ours in names.items() if getattr(args, flag) is not None}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DatasetWarning)  # the summary lists every skip and note
            samples, report = read_dataset(args.dataset, args.data_root, strict=args.strict, **options)
        print(summarize(args.dataset, samples, report))
        return 0

    p.set_defaults(func=run)


def _verb_synth(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="generate a SynthME dataset (CASME II layout, motion ground truth)")
    p.add_argument("out", type=Path, help="new or empty output folder")
    p.add_argument("--subjects", type=int, default=8, help="number of subjects (LOSO folds)")
    p.add_argument("--clips-per-subject", type=int, default=12, help="clips per subject")
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed, same files")
    p.add_argument("--size", type=int, default=64, help="face crop side in pixels")
    p.add_argument("--classes", type=int, choices=(3, 5), default=3, help="3: negative/positive/surprise, 5: CASME II words")
    p.add_argument("--balance", default="uniform", help="uniform, composite (250/109/83), casme2, or weights like 2,1,1")
    p.add_argument("--photo", type=Path, action="append", default=[], help="animate this face photo (repeatable)")
    p.add_argument("--preset", choices=("default", "composite"), default="default",
                   help="composite: the MEGC2019 composite's shape in three parts like SMIC, CASME II and SAMM "
                        "(68 subjects, 442 clips, 250/109/83; sets its own subjects, clips, sizes and fps)")
    p.add_argument("--shifted", action="store_true",
                   help="the shifted style for transfer tests: other skin texture and lighting, more head motion "
                        "and noise, weaker expressions, AU mixtures (mewb.synth.presets.SHIFTED)")

    def run(args: argparse.Namespace) -> int:
        from mewb.synth.generator import SynthConfig, generate_dataset, parse_balance
        from mewb.synth.presets import generate_composite, shifted

        if args.preset == "composite":
            given = [f for f, default in (("--subjects", 8), ("--clips-per-subject", 12), ("--size", 64),
                                          ("--classes", 3), ("--balance", "uniform"))
                     if getattr(args, f[2:].replace("-", "_")) != default] + (["--photo"] if args.photo else [])
            if given:
                raise ValueError(f"--preset composite sets its own shape; drop {', '.join(given)}")
            print(generate_composite(args.out, args.seed, shift=args.shifted))
            return 0
        config = SynthConfig(subjects=args.subjects, clips_per_subject=args.clips_per_subject, seed=args.seed,
                             size=args.size, classes=args.classes, balance=parse_balance(args.balance),
                             photos=tuple(str(p) for p in args.photo))
        print(generate_dataset(args.out, shifted(config) if args.shifted else config))
        return 0

    p.set_defaults(func=run)


def _verb_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a dataset as onset-apex flow images + CSV manifest (the public releases' layout)",
                       description="Example: mewb export flowimages --dataset casme2 --data-root /data/CASME2 --out flow28")
    p.add_argument("format", choices=["flowimages"], help="what to write (flowimages: u, v, strain PNGs + manifest.csv)")
    p.add_argument("--dataset", required=True, help="the dataset reader (casme2, samm, smic, composite, synth, ...)")
    p.add_argument("--data-root", required=True, type=Path, help="the dataset folder, in its published layout")
    p.add_argument("--out", required=True, type=Path, help="a new or empty folder")
    from mewb.commands.common import add_recipe_arguments

    add_recipe_arguments(p)
    p.add_argument("--cache-dir", default=None, help="preprocessing cache (default $MEWB_CACHE or ~/.cache/mewb)")

    def run(args: argparse.Namespace) -> int:
        from mewb.data.cache import PreprocessCache
        from mewb.data.export import export_flowimages
        from mewb.data.readers import class_names, read_dataset
        from mewb.recipe import resolve

        # the recipe's preprocessing (size, flow backend, flow size, stabilisation); default 28 px
        overrides = ["preprocess.size=28", "preprocess.flow_backend=farneback", "preprocess.flow_size=64",
                     "preprocess.flow_stabilise=true"] if args.recipe is None else []
        preprocess = resolve("flow_only", args.recipe, overrides + list(args.overrides)).preprocess
        samples, _report = read_dataset(args.dataset, args.data_root)
        if not samples:
            raise ValueError(f"dataset {args.dataset!r} at {args.data_root}: no samples")
        summary = export_flowimages(samples, args.out, dataset=args.dataset,
                                    class_names=class_names(args.dataset, samples), preprocess=preprocess,
                                    cache=PreprocessCache(args.cache_dir))
        dropped = f", {summary['dropped_other_emotions']} of other emotions left out" if summary["dropped_other_emotions"] else ""
        print(f"{args.out}: {summary['clips']} flow images at {preprocess.size} px{dropped}; "
              f"read them with --dataset flowimages --data-root {args.out}")
        return 0

    p.set_defaults(func=run)


def _verb_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks: model size and speed vs r3d18, flow, EVM, cache")
    p.add_argument("--quick", action="store_true", help="CI smoke setting: one input size, 2 repeats (about a minute)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default reports/bench-<time>); never overwritten")
    p.add_argument("--no-pipeline", action="store_true", help="models only: skip flow, EVM and cache figures")

    def run(args: argparse.Namespace) -> int:
        import dataclasses
        import time

        from mewb.bench import BenchConfig, format_markdown, run_benchmarks, write_report

        config = BenchConfig.quick() if args.quick else BenchConfig()
        if args.no_pipeline:
            config = dataclasses.replace(config, pipeline=False)
        out = args.out or Path("reports") / time.strftime("bench-%Y%m%d-%H%M%S")
        if out.exists() and any(out.iterdir()):  # fail before an hour of measuring, not after
            raise FileExistsError(f"{out} already holds a benchmark; choose another --out or remove it")
        result = run_benchmarks(config)
        write_report(result, out)
        print(format_markdown(result))
        print(f"written: {out / 'bench.json'}, {out / 'bench.md'}, {out / 'bench.html'}")
        return 0

    p.set_defaults(func=run)


def _verb_loso(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "loso",
        help="leave-one-subject-out training and evaluation into a run directory",
        description="One fold per subject (all datasets for the composite); pooled UF1/UAR. "
        "--protocol dataset-holdout tests each dataset of a multi-dataset set once, trained on the others.",
    )
    from mewb.commands.common import add_deprecated

    p.add_argument("--dataset", default=None, help="dataset reader name (casme2, samm, smic, composite, synth, ...)")
    p.add_argument("--data-root", default=None, help="the dataset's folder")
    add_deprecated(p, "--root", "--data-root", "data_root")
    p.add_argument("--folds", default=None, help="comma-separated subjects to run (dataset/subject or a unique id)")
    p.add_argument("--protocol", choices=["loso", "dataset-holdout"], default="loso",
                   help="loso (default) or the composite's per-dataset holdout")

    def run(args: argparse.Namespace) -> int:
        from mewb.commands.train import loso_command

        return loso_command(args)

    from mewb.commands.train import add_run_arguments

    add_run_arguments(p)
    p.set_defaults(func=run)


def _verb_pretrain(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pretrain",
        help="train one model on every clip of a (large, synthetic) dataset, to start LOSO folds from (--init)",
        description="Example: mewb synth data/pre --subjects 300 --clips-per-subject 10 --seed 7; "
        "mewb pretrain --dataset synth --data-root data/pre --variant flow_only --recipe composite-synth "
        "--out runs/pre; mewb loso ... --init runs/pre. Nothing is held out: the run has weights, no test scores.",
    )
    p.add_argument("--dataset", required=True, help="dataset reader name (synth for SynthME, or any other)")
    p.add_argument("--data-root", required=True, help="the dataset's folder")

    def run(args: argparse.Namespace) -> int:
        from mewb.commands.train import pretrain_command

        return pretrain_command(args)

    from mewb.commands.train import add_run_arguments

    add_run_arguments(p)
    p.set_defaults(func=run)


def _verb_crossdataset(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "crossdataset",
        help="train on some datasets, test on another (e.g. CASME II -> SAMM)",
        description="Example: mewb crossdataset --train casme2=/data/CASME2 --test samm=/data/SAMM --out runs/c2s",
    )
    p.add_argument("--train", action="append", required=True, metavar="NAME=DIR", help="a training dataset (repeatable)")
    p.add_argument("--test", action="append", required=True, metavar="NAME=DIR", help="a test dataset (repeatable)")

    def run(args: argparse.Namespace) -> int:
        from mewb.commands.train import crossdataset_command

        return crossdataset_command(args)

    from mewb.commands.train import add_run_arguments

    add_run_arguments(p)
    p.set_defaults(func=run)


def _report_arguments(p: argparse.ArgumentParser) -> None:
    from mewb.commands.common import add_deprecated, add_recipe_arguments

    p.add_argument("--dataset", default="synth", help="dataset reader (default synth: SynthME, generated when absent)")
    p.add_argument("--data-root", type=Path, default=None,
                   help="dataset folder (default for synth: data/synthme, data/synthme-quick with --quick)")
    add_deprecated(p, "--root", "--data-root", "data_root", type=Path)
    p.add_argument("--variants", default=None,
                   help="comma-separated model variants (default: baseline,flow_only,improved,dual,full; "
                        "quick: flow_only,full)")
    p.add_argument("--out", type=Path, default=None, help="report folder (default reports/<UTC time>-<dataset>)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing report folder")
    add_recipe_arguments(p)
    p.add_argument("--epochs", type=int, default=None, help="shorthand for --set train.epochs=N")
    p.add_argument("--device", default=None, help="shorthand for --set execution.device=DEVICE (auto, cpu, cuda:N)")
    p.add_argument("--no-explain", action="store_true", help="skip UMAP, saliency and localisation in the ablation page")
    p.add_argument("--weights", choices=("none", "compact", "full"), default=None,
                   help="fold checkpoints kept in the report once its pages are written: none (default; figures, "
                        "predictions and metrics only), compact (float16, for mewb explain/predict and the lab "
                        "explorer), full (float32 as trained; a demo report is then ~1.7 GB)")
    p.add_argument("--cache-dir", type=Path, default=None, help="preprocessing cache (default $MEWB_CACHE or ~/.cache/mewb)")
    add_deprecated(p, "--cache", "--cache-dir", "cache_dir", type=Path)


def _run_report(args: argparse.Namespace, *, quick: bool) -> int:
    from dataclasses import replace

    from mewb.reports.driver import ReportSettings, build_report
    from mewb.reports.execute import NotebookExecutionError

    settings = ReportSettings.quick() if quick else ReportSettings()
    overrides = list(args.overrides)
    overrides += [f"train.epochs={args.epochs}"] if args.epochs is not None else []
    overrides += [f"execution.device={args.device}"] if args.device is not None else []
    changes: dict = {"overrides": tuple(overrides)}
    if args.recipe:
        changes["recipe"] = args.recipe
    if args.no_explain:
        changes["explain"] = False
    if args.weights:
        changes["weights"] = args.weights
    variants = None
    if args.variants is not None:
        variants = [v.strip() for v in args.variants.split(",") if v.strip()]
        if not variants:
            raise ValueError(f"--variants {args.variants!r} names no variant; e.g. --variants flow_only,full")
    settings = replace(settings, **changes)
    settings.resolved(variants[0] if variants else "full")  # a bad recipe or override fails before any work
    try:
        index = build_report(args.out, dataset=args.dataset, root=args.data_root, variants=variants, quick=quick,
                             overwrite=args.overwrite, settings=settings, cache_dir=args.cache_dir)
    except NotebookExecutionError as error:
        print(f"mewb {args.verb}: error: {error}", file=sys.stderr)
        return 1
    print(index)
    return 0


def _verb_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="train variants through the notebooks and write an offline HTML report")
    _report_arguments(p)
    p.add_argument("--quick", action="store_true", help="tiny SynthME and 1 epoch: checks the pipeline in minutes")
    p.set_defaults(func=lambda args: _run_report(args, quick=args.quick))


def _verb_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the main job (make demo): SynthME, every ablation variant, the report")
    _report_arguments(p)
    p.set_defaults(func=lambda args: _run_report(args, quick=False))


def _verb_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a run's final model on all subjects (same config, no held-out fold) for mewb predict",
        description="Example: mewb train --all-subjects --run-config runs/synth-full/config.yaml --out runs/synth-full-final",
    )

    def run(args: argparse.Namespace) -> int:
        from mewb.commands.train import final_command

        return final_command(args)

    from mewb.commands.train import add_final_arguments

    add_final_arguments(p)
    p.set_defaults(func=run)


def _verb_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="analyse your own video or frame folder: spot micro-expressions, classify, saliency video + HTML",
        description="Example: mewb predict me.mp4 --run runs/synth-full  (writes me-mewb/ next to the video)",
    )

    def run(args: argparse.Namespace) -> int:
        from mewb.commands.predict import predict_command

        return predict_command(args)

    from mewb.commands.predict import add_predict_arguments

    add_predict_arguments(p)
    p.set_defaults(func=run)


def _verb_explain(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="score saliency methods against SynthME ground truth, per variant (LOSO runs)")

    from mewb.commands.explain import add_arguments

    add_arguments(p)

    def run(args: argparse.Namespace) -> int:
        from mewb.commands.explain import run as explain

        return explain(args)

    p.set_defaults(func=run)


VERBS = [_verb_doctor, _verb_models, _verb_recipe, _verb_cache, _verb_info, _verb_synth, _verb_export, _verb_bench, _verb_loso, _verb_pretrain, _verb_crossdataset, _verb_report, _verb_demo, _verb_train,
         _verb_predict, _verb_explain]


def build_parser() -> argparse.ArgumentParser:
    from mewb import __version__

    parser = argparse.ArgumentParser(
        prog="mewb",
        description="mewb: the micro-expression workbench (IM3DR-MFER, LOSO evaluation, saliency).",
    )
    parser.add_argument("--version", action="version", version=f"mewb {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for add_verb in VERBS:
        add_verb(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as error:
        # Bad input: one clear line naming the file and the problem, no traceback.
        print(f"mewb {args.verb}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        if not error.filename:  # not about a file the user named: a real failure, keep the traceback
            raise
        # A path that cannot be used (a file where a folder is needed, no permission, disk full).
        print(f"mewb {args.verb}: error: {error.filename}: {error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(interrupted_message(args, sys.argv[1:] if argv is None else argv), file=sys.stderr)
        return 130


def interrupted_message(args: argparse.Namespace, argv: list[str]) -> str:
    """What Ctrl-C prints: for a run that can continue, the exact command that does."""
    line = f"mewb {args.verb}: interrupted"
    if hasattr(args, "resume") and getattr(args, "out", None):
        again = list(argv) if "--resume" in argv else [*argv, "--resume"]
        line += (f"; finished folds are kept in {args.out}. Continue the run with:\n"
                 f"  mewb {shlex.join(again)}")
    return line


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
