"""``mewb explain``: the localisation table (and optionally robustness and timings) of LOSO runs."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", action="append", required=True, type=Path, help="a LOSO run directory (repeat for several variants)")
    p.add_argument("--data-root", type=Path, default=None, help="the dataset folder, if it moved since training")
    p.add_argument("--methods", nargs="+", default=None, help="attribution methods (default: all; see mewb.explain.list_methods)")
    p.add_argument("--region", choices=("mask", "motion"), default="mask", help="ground truth: apex mask on every frame, or moving voxels")
    p.add_argument("--clips-per-subject", type=int, default=None, help="score only the first N clips of each subject")
    p.add_argument("--no-deletion", action="store_true", help="skip the deletion curves (faster)")
    p.add_argument("--scores", type=Path, default=None, help="write the per-clip scores to this CSV")
    p.add_argument("--robustness", action="store_true", help="also run the test-time perturbation probes")
    p.add_argument("--timing", action="store_true", help="also time each method on one clip of the first run")


def run(args: argparse.Namespace) -> int:
    import warnings

    from mewb.explain.evaluate import DEFAULT_METHODS, localisation_findings, localisation_table, score_runs

    runs = [str(r) for r in args.run]
    if args.scores is not None:  # checked before minutes of scoring, not after
        if args.scores.is_dir():
            raise ValueError(f"{args.scores}: is a folder; --scores names the CSV file to write")
        folder = args.scores.parent
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"{folder}: exists and is not a folder; --scores cannot be written inside it")
        folder.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        scores = score_runs(
            runs,
            data_root=args.data_root,
            clips_per_subject=args.clips_per_subject,
            methods=tuple(args.methods or DEFAULT_METHODS),
            region=args.region,
            deletion=not args.no_deletion,
        )
    if args.scores is not None:
        scores.to_csv(args.scores, index=False)
    table = localisation_table(scores)
    print(table.to_string(index=False, float_format="%.3f"))
    print()
    print("\n".join(f"- {line}" for line in localisation_findings(table)))
    from mewb.explain.regions import region_table

    print("\nshare of map energy per facial region (landmarks: synthme = the rendered face, template = average proportions)")
    print(region_table(scores).to_string(index=False, float_format="%.3f"))
    if args.robustness:
        from mewb.explain.robustness import run_robustness

        table = run_robustness(runs, data_root=args.data_root, clips_per_subject=args.clips_per_subject)
        print()
        print(table.to_string(index=False, float_format="%.3f"))
    if args.timing:
        from mewb.data.pipeline import ClipPipeline
        from mewb.explain.runs import FoldModels, run_samples
        from mewb.explain.timing import time_methods
        from mewb.rundir import RunDir

        run = RunDir.open(runs[0])
        sample = run_samples(run, args.data_root)[0]
        models = FoldModels(run)
        model = models[models.key_of(sample)]
        inputs = ClipPipeline(run.preprocess, model.modalities).inputs(sample)
        print()
        print(time_methods(model, inputs).to_string(index=False, float_format="%.3f"))
    return 0
