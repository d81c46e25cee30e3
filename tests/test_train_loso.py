"""LOSO and holdout runs on tiny in-memory clips: run directory, never overwrite, resume, executors, CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
import yaml

from mewb.data.preprocess import PreprocessConfig
from mewb.rundir import RunDir, RunExistsError, load_run
from mewb.train import runner as runner_module
from mewb.train.config import TrainConfig
from mewb.train.executors import Execution
from mewb.train.protocols import holdout_folds
from mewb.train.runner import run_holdout, run_loso
from mewb.train.toy import toy_dataset, toy_samples

TINY = PreprocessConfig(clip_length=2, size=16)
FAST = TrainConfig(epochs=1, batch_size=8)  # one step per epoch
HERE = Execution(threads=2, progress=False)


def run(out, samples=None, execution=HERE, **kwargs):
    kwargs.setdefault("train_config", FAST)
    return run_loso(samples or toy_samples(2, 4), variant="flow_only", preprocess_config=TINY, out=out,
                    dataset_factory=toy_dataset, execution=execution, **kwargs)


def test_run_directory_holds_every_artifact_and_each_sample_is_tested_once(tmp_path):
    samples = toy_samples(3, 4)
    result = run(tmp_path / "run", samples)
    d = result.run_dir
    for name in ("config.yaml", "environment.json", "metrics.json", "predictions.csv", "log.txt", "megc_log.txt"):
        assert (d / name).is_file(), name
    for subject in ("s01", "s02", "s03"):
        for name in ("checkpoint.pt", "predictions.csv", "fold.json"):
            assert (d / "folds" / "toy" / subject / name).is_file()
    p = result.predictions
    assert list(p.columns[:6]) == ["fold", "dataset", "subject", "clip", "label", "pred"]
    assert {"prob_0", "prob_1", "prob_2"} <= set(p.columns)
    assert sorted(p["dataset"] + "/" + p["subject"] + "/" + p["clip"]) == sorted(s.key for s in samples)
    assert (p["fold"] == p["dataset"] + "/" + p["subject"]).all()  # every clip tested in its own subject's fold
    np.testing.assert_allclose(p[["prob_0", "prob_1", "prob_2"]].sum(axis=1), 1, atol=1e-5)
    config = yaml.safe_load((d / "config.yaml").read_text())
    assert config["variant"] == "flow_only" and config["train"]["epochs"] == 1 and config["preprocess"]["size"] == 16
    env = json.loads((d / "environment.json").read_text())
    assert env["torch"] and env["device"] == "cpu" and env["torch_threads"] == 2
    fold = json.loads((d / "folds" / "toy" / "s02" / "fold.json").read_text())
    assert "toy/s02" not in fold["train_subjects"] and fold["val_subjects"] == []
    metrics = json.loads((d / "metrics.json").read_text())
    assert metrics["protocol"] == "fixed epochs" and metrics["leaky"] is False and metrics["pooled"]["n"] == 12
    assert "epoch 1/1" in (d / "log.txt").read_text()
    loaded = load_run(d)
    pd.testing.assert_frame_equal(loaded.predictions, p)
    assert loaded.metrics == metrics
    # never overwritten
    with pytest.raises(RunExistsError, match="--resume"):
        run(d, samples)


def test_resume_after_a_crash_skips_finished_folds_and_matches_an_uninterrupted_run(tmp_path, monkeypatch):
    samples = toy_samples(3, 4)
    reference = run(tmp_path / "reference", samples)

    real_write = RunDir.write_fold
    written = []

    def crash_after_first(self, fold, **kwargs):
        if written:
            raise KeyboardInterrupt("simulated crash")
        written.append(fold)
        real_write(self, fold, **kwargs)

    monkeypatch.setattr(RunDir, "write_fold", crash_after_first)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "crashed", samples)
    monkeypatch.setattr(RunDir, "write_fold", real_write)
    assert not (tmp_path / "crashed" / "metrics.json").exists()

    trained = []
    real_run_fold = runner_module.run_fold
    monkeypatch.setattr(runner_module, "run_fold", lambda job, **kw: trained.append(job.name) or real_run_fold(job, **kw))
    resumed = run(tmp_path / "crashed", samples, resume=True)
    assert written[0] not in trained and len(trained) == 2
    pd.testing.assert_frame_equal(resumed.predictions.sort_values("clip").reset_index(drop=True),
                                  reference.predictions.sort_values("clip").reset_index(drop=True))
    assert resumed.metrics["pooled"] == reference.metrics["pooled"]
    assert "resume loso run" in (tmp_path / "crashed" / "log.txt").read_text()


def test_resume_refuses_a_different_experiment(tmp_path):
    samples = toy_samples(2, 4)
    run(tmp_path / "run", samples)
    with pytest.raises(ValueError, match="train.lr"):
        run(tmp_path / "run", samples, resume=True, train_config=FAST.replace(lr=1e-4))
    # execution settings may change
    run(tmp_path / "run", samples, resume=True, execution=HERE.replace(threads=1))
    assert RunDir.open(tmp_path / "run").config.execution.threads == 1


def test_leaky_selection_is_recorded_and_labelled(tmp_path):
    result = run(tmp_path / "leaky", toy_samples(2, 4), train_config=FAST.replace(selection="test-leaky", epochs=2))
    assert result.metrics["protocol"] == "test-selected (leaky)" and result.metrics["leaky"]
    assert "LEAKY" in result.table()
    log = (tmp_path / "leaky" / "log.txt").read_text()
    assert "test-selected (leaky)" in log.splitlines()[0]
    assert all("test-selected (leaky)" in line for line in log.splitlines() if "epoch 1/2" in line)


def test_inner_validation_uses_training_subjects_only(tmp_path):
    result = run(tmp_path / "val", toy_samples(3, 4), train_config=FAST.replace(selection="inner-val"),
                 folds=["s01", "toy/s03"])
    assert result.metrics["protocol"] == "early stopping on training subjects"
    for fold in ("s01", "s03"):
        meta = json.loads((tmp_path / "val" / "folds" / "toy" / fold / "fold.json").read_text())
        assert len(meta["val_subjects"]) == 1
        assert f"toy/{fold}" not in meta["val_subjects"] + meta["train_subjects"]
        assert not set(meta["val_subjects"]) & set(meta["train_subjects"])
    assert set(result.predictions["fold"]) == {"toy/s01", "toy/s03"}
    with pytest.raises(ValueError, match="not a fold"):
        run(tmp_path / "bad", toy_samples(2, 4), folds=["s09"])


def test_holdout_folds_for_cross_dataset_and_composite():
    samples = toy_samples(2, 3, dataset="casme2") + toy_samples(2, 3, dataset="samm") + toy_samples(1, 3, dataset="smic")
    cross = holdout_folds(samples, train_datasets=["casme2"], test_datasets=["samm"])
    assert [f.name for f in cross] == ["casme2-to-samm"]
    assert {samples[i].dataset for i in cross[0].train_idx} == {"casme2"}
    assert {samples[i].dataset for i in cross[0].test_idx} == {"samm"}
    per_dataset = holdout_folds(samples)
    assert [f.name for f in per_dataset] == ["holdout/casme2", "holdout/samm", "holdout/smic"]
    for fold in per_dataset:
        tested = {samples[i].dataset for i in fold.test_idx}
        assert len(tested) == 1 and not tested & {samples[i].dataset for i in fold.train_idx}
    with pytest.raises(ValueError, match="no samples"):
        holdout_folds(samples, test_datasets=["casme3"])


def test_a_pool_takes_the_folds_with_the_most_training_clips_first():
    from mewb.train.protocols import loso_folds
    from mewb.train.runner import longest_first

    # subjects with 5, 2, 4 and 2 clips: the fold holding out a 2-clip subject trains on the most
    keep = {"s01": 5, "s02": 2, "s03": 4, "s04": 2}
    samples = [s for s in toy_samples(4, 5) if int(s.clip[1:]) <= keep[s.subject]]
    folds = loso_folds(samples)
    ordered = longest_first(folds)
    sizes = [len(f.train_idx) for f in ordered]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[-1]
    two_clip_subjects = [f.name for f in folds if len(f.test_idx) == 2]
    assert [f.name for f in ordered[:2]] == two_clip_subjects  # equal folds keep their order
    assert sorted(f.name for f in ordered) == sorted(f.name for f in folds)


def test_cross_dataset_run_writes_the_same_run_directory(tmp_path):
    samples = toy_samples(2, 3, dataset="casme2") + toy_samples(1, 4, dataset="samm")
    result = run_holdout(samples, train_datasets=["casme2"], test_datasets=["samm"], variant="flow_only",
                         train_config=FAST, preprocess_config=TINY, out=tmp_path / "x", dataset_factory=toy_dataset,
                         execution=HERE)
    assert set(result.predictions["dataset"]) == {"samm"} and len(result.predictions) == 4
    assert result.metrics["evaluation"] == "cross-dataset"
    assert (tmp_path / "x" / "folds" / "casme2-to-samm" / "fold.json").is_file()


@pytest.mark.slow
def test_executors_give_identical_predictions(tmp_path):
    from distributed import LocalCluster

    samples = toy_samples(2, 4)
    one = HERE.replace(threads=1)
    here = run(tmp_path / "inprocess", samples, execution=one).predictions.sort_values("clip")
    pool = run(tmp_path / "process", samples, execution=one.replace(executor="process", workers=2))
    # processes=False would default to the in-process transport; tcp on 127.0.0.1 exercises the real one
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        dask = run(tmp_path / "dask", samples, execution=one.replace(executor="dask", scheduler=cluster.scheduler_address))
    for other in (pool, dask):
        pd.testing.assert_frame_equal(other.predictions.sort_values("clip").reset_index(drop=True),
                                      here.reset_index(drop=True))

    def epoch_lines(name):  # what each fold's worker said, without the timings
        lines = (tmp_path / name / "log.txt").read_text().splitlines()
        return sorted(re.sub(r"^\S+ \S+ | \S+s$", "", line) for line in lines if ": epoch " in line)

    assert epoch_lines("inprocess") and epoch_lines("process") == epoch_lines("inprocess") == epoch_lines("dask")
    assert json.loads((tmp_path / "dask" / "environment.json").read_text())["executor"] == "dask"


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_metrics(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys
        from mewb.data.preprocess import PreprocessConfig
        from mewb.train import Execution, TrainConfig, run_loso
        from mewb.train.toy import toy_dataset, toy_samples
        run_loso(toy_samples(3, 4), variant="flow_only", train_config=TrainConfig(epochs=2, batch_size=8),
                 preprocess_config=PreprocessConfig(clip_length=2, size=16), out=sys.argv[1],
                 dataset_factory=toy_dataset, execution=Execution(threads=1, progress=False),
                 resume=len(sys.argv) > 2)
        """
    )
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", script, str(out)])
    first = out / "folds" / "toy" / "s01" / "fold.json"
    deadline = time.time() + 120
    while not first.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert first.exists() and not (out / "metrics.json").exists()
    subprocess.run([sys.executable, "-c", script, str(out), "resume"], check=True)
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "whole")], check=True)
    assert load_run(out).metrics["pooled"] == load_run(tmp_path / "whole").metrics["pooled"]
    pd.testing.assert_frame_equal(load_run(out).predictions, load_run(tmp_path / "whole").predictions)


@pytest.mark.slow
def test_cli_loso_on_a_tiny_synthme_dataset(tmp_path):
    from mewb.cli import main
    from mewb.synth import SynthConfig, generate_dataset

    data = generate_dataset(tmp_path / "synth", SynthConfig(subjects=2, clips_per_subject=3, frames=48, size=32))
    args = ["loso", "--dataset", "synth", "--data-root", str(data), "--variant", "flow_only", "--epochs", "1",
            "--clip-length", "3", "--size", "16", "--flow-backend", "farneback", "--batch-size", "2",
            "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "run"), "--no-progress"]
    assert main(args) == 0
    result = load_run(tmp_path / "run")
    assert result.metrics["pooled"]["n"] == 6 and result.config.dataset.name == "synth"
    assert result.config.execution.cache_dir == str(tmp_path / "cache")
    assert main(args) == 2  # exists: one clear error line, no traceback
    assert main(args[:-3] + ["--out", str(tmp_path / "run"), "--resume", "--no-progress"]) == 0


def test_cli_flags_are_overrides_on_top_of_the_recipe(tmp_path, capsys):
    import argparse

    from mewb.commands.train import add_run_arguments, overrides_from
    from mewb.recipe import resolve

    recipe = tmp_path / "c.yaml"
    recipe.write_text("variant: dual\npreprocess: {size: 40, flow_backend: tvl1, clip_length: 2}\ntrain: {epochs: 3}\n")
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    args = parser.parse_args(["--out", str(tmp_path / "run"), "--recipe", str(recipe), "--size", "32",
                              "--sampling", "onset_apex", "--flow-mode", "onset_apex", "--flow-size", "64",
                              "--stabilise", "--flow-backend", "farneback", "--set", "train.lr=0.01"])
    resolved = resolve(args.variant, args.recipe, overrides_from(args))
    pre = resolved.preprocess
    assert resolved.variant == "dual" and resolved.train.epochs == 3 and resolved.train.lr == 0.01
    assert pre.clip_length == 2
    assert (pre.size, pre.flow_size, pre.flow_stabilise, pre.flow_backend) == (32, 64, True, "farneback")
    assert pre.sampling == pre.flow_mode == "onset_apex"
    plain = parser.parse_args(["--out", str(tmp_path / "run")])
    assert resolve(plain.variant, plain.recipe, overrides_from(plain)).preprocess == PreprocessConfig(evm=True)  # full
    old = parser.parse_args(["--out", "x", "--frames", "5", "--cache", "c", "--config", str(recipe)])
    assert "--frames is deprecated, use --clip-length" in capsys.readouterr().err
    assert resolve(old.variant, old.recipe, overrides_from(old)).preprocess.clip_length == 5


def test_resume_retrains_a_finished_fold_whose_outputs_are_damaged(tmp_path):
    samples = toy_samples(3, 4)
    reference = run(tmp_path / "reference", samples)
    damaged = tmp_path / "damaged"
    run(damaged, samples)
    cut = damaged / "folds" / "toy" / "s01" / "predictions.csv"
    cut.write_text(cut.read_text().splitlines()[0] + "\n")  # only the header left
    checkpoint = damaged / "folds" / "toy" / "s02" / "checkpoint.pt"
    data = bytearray(checkpoint.read_bytes())
    data[-20] ^= 0xFF
    checkpoint.write_bytes(bytes(data))
    resumed = run(damaged, samples, resume=True)
    log = (damaged / "log.txt").read_text()
    assert "toy/s01: retraining" in log and "has 0 rows for 0 of its 4 test clips" in log
    assert "toy/s02: retraining" in log and "does not match its checksum" in log
    assert "toy/s03: retraining" not in log
    assert resumed.metrics["pooled"] == reference.metrics["pooled"] and len(resumed.predictions) == 12


READS: list[str] = []


def counting_toy_dataset(samples, preprocess_config, modalities, cache_dir=None):
    """``toy_dataset`` that records which clips are read."""
    dataset = toy_dataset(samples, preprocess_config, modalities, cache_dir)
    get = dataset.__getitem__

    class Counting(type(dataset)):
        def __getitem__(self, index):
            READS.append(samples[index].key)
            return get(index)

    dataset.__class__ = Counting
    return dataset


def test_the_folds_of_a_run_read_each_clip_once_per_worker_and_a_new_run_reads_again(tmp_path):
    samples = toy_samples(3, 4)
    kwargs = dict(variant="flow_only", train_config=TrainConfig(epochs=1, batch_size=4),
                  preprocess_config=PreprocessConfig(clip_length=2, size=16), dataset_factory=counting_toy_dataset,
                  execution=Execution(threads=1, progress=False, device="cpu"))
    READS.clear()
    first = run_loso(samples, out=tmp_path / "a", **kwargs)
    # Three folds, every clip in each (train or test), each read once; before, three times.
    assert sorted(READS) == sorted(s.key for s in samples)
    READS.clear()
    second = run_loso(samples, out=tmp_path / "b", **kwargs)
    assert sorted(READS) == sorted(s.key for s in samples)  # a new run does not trust the last one's clips
    # Every fold's predictions are its own test clips, in order.
    for result in (first, second):
        for fold, rows in result.predictions.groupby("fold"):
            assert set(rows["subject"]) == {fold.split("/")[-1]}
