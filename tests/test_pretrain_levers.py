"""Pretraining (mewb pretrain, train.init) and the honest levers (seed ensembles, flip TTA)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import yaml

from mewb.data.preprocess import PreprocessConfig
from mewb.rundir import RunDir, RunDirError
from mewb.train.augment import mirror
from mewb.train.config import TrainConfig
from mewb.train.executors import Execution
from mewb.train.fold import run_fold
from mewb.train.loop import predict
from mewb.train.protocols import all_subjects_fold, loso_folds
from mewb.train.runner import Experiment, run_experiment, run_loso
from mewb.train.toy import ToyClipDataset, toy_dataset, toy_samples

TINY = PreprocessConfig(clip_length=2, size=16)
HERE = Execution(threads=1, progress=False)


def _pretrain(out, epochs=2, variant="flow_only"):
    samples = toy_samples(3, 4, dataset="pre")
    experiment = Experiment.create(samples, all_subjects_fold(samples), protocol="all-subjects", variant=variant,
                                   train_config=TrainConfig(epochs=epochs, batch_size=8), preprocess_config=TINY,
                                   dataset_factory=toy_dataset)
    return run_experiment(experiment, out, execution=HERE)


def _loso(out, **train):
    config = TrainConfig(**{"epochs": 1, "batch_size": 8, **train})
    return run_loso(toy_samples(2, 4), variant="flow_only", preprocess_config=TINY, train_config=config, out=out,
                    dataset_factory=toy_dataset, execution=HERE)


def _conv_weights(state: dict) -> dict:
    return {k: v for k, v in state.items() if k.endswith("weight") and v.ndim == 5}


def test_every_fold_starts_from_the_pretrained_weights_and_the_run_records_them(tmp_path):
    pre = _pretrain(tmp_path / "pre")
    pretrained = RunDir.open(pre.run_dir).load_state_dict("all")
    # lr 0: nothing moves from where the fold started (AdamW's decay is scaled by lr as well)
    result = _loso(tmp_path / "ft", init=str(pre.run_dir), lr=0.0, warmup_epochs=0, grad_clip=None)
    run = RunDir.open(result.run_dir)
    for fold in run.finished_folds():
        started = _conv_weights(run.load_state_dict(fold))
        assert all(torch.equal(started[k], pretrained[k]) for k in started)
    scratch = RunDir.open(_loso(tmp_path / "scratch", lr=0.0, warmup_epochs=0, grad_clip=None).run_dir)
    other = _conv_weights(scratch.load_state_dict(scratch.finished_folds()[0]))
    assert not all(torch.equal(other[k], pretrained[k]) for k in other)
    recorded = yaml.safe_load((result.run_dir / "config.yaml").read_text())["train"]
    assert recorded["init"] == str(pre.run_dir.resolve())
    assert len(recorded["init_sha256"]) == 64 and "pre" in recorded["init_data"] and "12 clips" in recorded["init_data"]


def test_a_pretraining_run_that_changed_or_does_not_fit_is_refused(tmp_path):
    pre = _pretrain(tmp_path / "pre", epochs=1)
    with pytest.raises(RunDirError, match="init_sha256 the recipe records"):
        _loso(tmp_path / "stale", init=str(pre.run_dir), init_sha256="0" * 64)
    dual = _pretrain(tmp_path / "dual", epochs=1, variant="dual")
    with pytest.raises(RunDirError, match="pretrained dual .* this run trains flow_only"):
        _loso(tmp_path / "other", init=str(dual.run_dir))
    scratch = _loso(tmp_path / "a-loso-run")
    with pytest.raises(RunDirError, match="not a finished pretraining run"):
        _loso(tmp_path / "from-loso", init=str(scratch.run_dir))
    checkpoint = RunDir.open(pre.run_dir).checkpoint_path("all")
    checkpoint.write_bytes(checkpoint.read_bytes()[:-8] + b"tampered")
    with pytest.raises(RunDirError, match="checksum mismatch"):
        _loso(tmp_path / "tampered", init=str(pre.run_dir))


def _job(samples, **train):
    experiment = Experiment.create(samples, loso_folds(samples), protocol="loso", variant="flow_only",
                                   train_config=TrainConfig(**{"epochs": 1, "batch_size": 8, **train}),
                                   preprocess_config=TINY, dataset_factory=toy_dataset)
    return experiment.jobs(experiment.folds[:1], HERE)[0]


def test_a_seed_ensemble_averages_the_probabilities_of_its_members():
    samples = toy_samples(3, 4)
    ensemble = run_fold(_job(samples, ensemble=2, seed=5))
    one, two = run_fold(_job(samples, seed=5)), run_fold(_job(samples, seed=6))
    expected = (np.array([[r[f"prob_{k}"] for k in range(3)] for r in one.rows])
                + np.array([[r[f"prob_{k}"] for k in range(3)] for r in two.rows])) / 2
    got = np.array([[r[f"prob_{k}"] for k in range(3)] for r in ensemble.rows])
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert len(ensemble.members) == 1 and {r["member"] for r in ensemble.history} == {1, 2}
    for k, v in two.state_dict.items():
        assert torch.equal(ensemble.members[0][k], v)


def test_an_ensembles_members_are_kept_in_the_checkpoint(tmp_path):
    result = _loso(tmp_path / "ens", ensemble=2)
    run = RunDir.open(result.run_dir)
    fold = run.finished_folds()[0]
    checkpoint = torch.load(io.BytesIO(run.checkpoint_bytes(fold)), weights_only=True)
    assert len(checkpoint["members"]) == 1
    run.store_weights("compact")
    checkpoint = torch.load(io.BytesIO(run.checkpoint_bytes(fold)), weights_only=True)
    assert all(v.dtype != torch.float32 for m in checkpoint["members"] for v in m.values() if v.is_floating_point())


def test_mirror_flips_width_and_negates_only_the_flows_u():
    x = torch.randn(2, 3, 1, 4, 5)
    m = mirror({"flow": x, "frames": x})
    assert torch.equal(m["flow"][:, 0], -x[:, 0].flip(-1)) and torch.equal(m["flow"][:, 1:], x[:, 1:].flip(-1))
    assert torch.equal(m["frames"], x.flip(-1))
    assert torch.equal(mirror(m)["flow"], x)


def test_flip_tta_averages_a_clip_with_its_mirror_image():
    from mewb.models import create_model

    torch.manual_seed(0)
    model = create_model("flow_only", num_classes=3).eval()
    data = ToyClipDataset(toy_samples(1, 4), frames=2, size=16, modalities=("flow",))
    plain, _, _ = predict(model, data)
    both, _, _ = predict(model, data, tta="flip")
    batch = {"flow": torch.stack([data[i]["flow"] for i in range(len(data))])}
    with torch.no_grad():
        mirrored = torch.softmax(model(mirror(batch)), dim=1).numpy()
    np.testing.assert_allclose(both, (plain + mirrored) / 2, atol=1e-5)
    assert not np.allclose(both, plain)


def test_levers_are_checked():
    with pytest.raises(ValueError, match="ensemble"):
        TrainConfig(ensemble=0)
    with pytest.raises(ValueError, match="unknown tta"):
        TrainConfig(tta="rotate")


def test_pretrain_and_init_end_to_end_on_a_small_synthme(tmp_path, monkeypatch, capsys):
    from mewb.cli import main
    from mewb.synth import SynthConfig, generate_dataset

    monkeypatch.setenv("MEWB_CACHE", str(tmp_path / "cache"))
    small = dict(subjects=2, clips_per_subject=3, size=32, workers=1)
    pre = generate_dataset(tmp_path / "pre", SynthConfig(seed=7, **small))
    evaluation = generate_dataset(tmp_path / "eval", SynthConfig(seed=0, **small))
    common = ["--variant", "flow_only", "--recipe", "composite-synth", "--epochs", "1", "--executor", "inprocess",
              "--no-progress"]
    assert main(["pretrain", "--dataset", "synth", "--data-root", str(pre), "--out", str(tmp_path / "runs/pre"),
                 *common]) == 0
    assert "--init" in capsys.readouterr().out
    assert main(["loso", "--dataset", "synth", "--data-root", str(evaluation), "--folds", "sub01", "--init",
                 str(tmp_path / "runs/pre"), "--tta", "flip", "--out", str(tmp_path / "runs/ft"), *common]) == 0
    train = yaml.safe_load((tmp_path / "runs/ft/config.yaml").read_text())["train"]
    assert train["init"].endswith("runs/pre") and train["tta"] == "flip" and "6 clips" in train["init_data"]
    # the evaluation set's own identities are never a pretraining set for it
    assert main(["pretrain", "--dataset", "synth", "--data-root", str(evaluation), "--out",
                 str(tmp_path / "runs/leak"), *common]) == 0
    assert main(["loso", "--dataset", "synth", "--data-root", str(evaluation), "--folds", "sub01", "--init",
                 str(tmp_path / "runs/leak"), "--out", str(tmp_path / "runs/leaky"), *common]) == 2
    err = capsys.readouterr().err
    assert "its test subjects were seen in pretraining" in err and err.count("\n") == 1
    assert not (tmp_path / "runs/leaky").exists()


def test_a_grid_is_chosen_on_training_subjects_then_refit_on_all_of_them():
    from mewb.train.config import grid_points

    assert grid_points("lr=0.001,0.0005; epochs=1,2") == [
        {"lr": 0.001, "epochs": 1}, {"lr": 0.001, "epochs": 2}, {"lr": 0.0005, "epochs": 1}, {"lr": 0.0005, "epochs": 2}]
    samples = toy_samples(4, 4)
    job = _job(samples, grid="epochs=1,3; lr=0.0", selection="fixed")
    assert job.val_samples and not {s.subject for s in job.val_samples} & {s.subject for s in job.test_samples}
    result = run_fold(job)
    tried = [r["setting"] for r in result.grid]
    assert tried == [{"epochs": 1, "lr": 0.0}, {"epochs": 3, "lr": 0.0}]
    best = max(result.grid, key=lambda r: r["val_uf1"])
    assert len(result.history) == best["setting"]["epochs"]  # the final model trained with the chosen setting
    assert "grid" in result.record()
    for bad in ("lr", "momentum=0.9", "epochs=a,b", "lr="):
        with pytest.raises(ValueError, match="grid"):
            TrainConfig(grid=bad)
    with pytest.raises(ValueError, match="needs selection 'fixed'"):
        TrainConfig(grid="lr=0.001", selection="inner-val")


def test_flip_tta_changes_predictions_only_never_the_training(tmp_path):
    plain, flipped = _loso(tmp_path / "plain", epochs=2), _loso(tmp_path / "flip", epochs=2, tta="flip")
    a, b = RunDir.open(plain.run_dir), RunDir.open(flipped.run_dir)
    for fold in a.finished_folds():
        sa, sb = a.load_state_dict(fold), b.load_state_dict(fold)
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not np.allclose(plain.predictions["prob_0"], flipped.predictions["prob_0"])
