"""The table, embeddings and robustness probes end to end on a tiny SynthME set and tiny runs.

A tiny SynthME dataset (2 subjects x 3 clips) and a fake LOSO run (untrained `dual` fold models
saved in the run-directory layout) keep this fast; what is checked is the plumbing: each sample
goes to its own fold's model, ground truth lines up with the frames seen, tables have their rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from fixtures.runs import write_fake_run

from mewb.data.preprocess import PreprocessConfig
from mewb.explain import (
    FoldModels,
    fold_embeddings,
    ground_truth,
    localisation_table,
    pca_2d,
    perturb,
    robustness_table,
    score_fold_models,
    score_runs,
)
from mewb.explain.robustness import PERTURBATIONS
from mewb.models import create_model
from mewb.rundir import RunDir, RunDirError

CONFIG = PreprocessConfig(clip_length=4, size=32, flow_backend="farneback")


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    from mewb.data.synth import read
    from mewb.synth import SynthConfig, generate_dataset

    root = tmp_path_factory.mktemp("synth") / "synthme"
    generate_dataset(root, SynthConfig(subjects=2, clips_per_subject=3, size=32, frames=48, seed=3, workers=1))
    return root, read(root)


@pytest.fixture(scope="module")
def run_dir(synth, tmp_path_factory):
    """A LOSO run written through mewb.rundir: folds/<dataset>/<subject>/checkpoint.pt, a fold column."""
    root, samples = synth
    folds = [f"synth/{s}" for s in sorted({s.subject for s in samples})]
    return write_fake_run(tmp_path_factory.mktemp("runs") / "dual-demo", variant="dual", folds=folds,
                          preprocess=CONFIG, data_root=root, samples=samples).path


def test_ground_truth_follows_the_frames_the_model_saw(synth):
    _, samples = synth
    sample = samples[0]
    gt = ground_truth(sample, CONFIG)
    assert gt["motion"].shape == (4, 32, 32) and gt["mask"].shape == (32, 32) and gt["mask"].dtype == bool
    with np.load(sample.ground_truth) as data:
        full = data["motion"]
    first = sample.frame_numbers.index(sample.onset)
    assert np.array_equal(gt["motion"][0], full[first])  # uniform sampling starts at the onset
    assert gt["motion"][0].max() == 0.0 and gt["motion"].max() > 0  # the onset frame has not moved yet
    small = ground_truth(sample, CONFIG, size=(16, 16))
    assert small["motion"].shape == (4, 16, 16) and small["mask"].shape == (16, 16)


def test_run_dir_and_fold_models_load_each_folds_checkpoint(run_dir, synth):
    _, samples = synth
    run = RunDir.open(run_dir)
    assert run.variant == "dual" and run.preprocess == CONFIG and run.finished_folds() == ["synth/sub01", "synth/sub02"]
    assert run.config.dataset.name == "synth" and run.class_names == ["negative", "positive", "surprise"]
    models = FoldModels(run_dir, keep=1)
    assert models.key_of(samples[0]) == "synth/sub01" and models.key_of(samples[3]) == "synth/sub02"
    a, b = models["synth/sub01"], models["sub02"]  # a subject name also finds its fold
    assert not a.training
    assert not torch.equal(next(a.parameters()), next(b.parameters()))  # different folds, different weights
    assert "sub01" in models and "sub03" not in models
    with pytest.raises(KeyError, match="sub03"):
        models["sub03"]


def test_an_older_or_foreign_run_directory_is_refused_naming_the_key(tmp_path):
    run = tmp_path / "old"
    (run / "folds" / "s1").mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"model": "improved", "data_root": "/x", "preprocessing": {"frames": 4}}))
    with pytest.raises(RunDirError, match=r"missing key\(s\) \[.*'variant'.*unknown key\(s\) \['data_root', 'model', 'preprocessing'\]"):
        RunDir.open(run)


def test_two_runs_of_one_variant_stay_two_rows_named_by_their_folders(run_dir, tmp_path):
    import shutil

    other = tmp_path / "dual-seed1"
    shutil.copytree(run_dir, other)
    scores = score_runs([run_dir, other], clips_per_subject=1, methods=("saliency",), progress=False,
                        deletion=False, n_random=1)
    table = localisation_table(scores)
    assert sorted(table.variant) == ["dual (dual-demo)", "dual (dual-seed1)"]
    assert (table.clips == 2).all()  # each run's own 2 clips, not 4 averaged into one "dual" row
    alone = localisation_table(score_runs([run_dir], clips_per_subject=1, methods=("saliency",), progress=False,
                                          deletion=False, n_random=1))
    assert list(alone.variant) == ["dual"]


def test_score_runs_gives_one_row_per_clip_and_method_and_a_table(run_dir):
    scores = score_runs([run_dir], clips_per_subject=1, methods=("saliency", "gradcam", "attention"), progress=False, n_random=1, fractions=(0.0, 0.5, 1.0))
    assert len(scores) == 2 * 2  # 2 subjects x 1 clip x 2 methods (dual has no attention)
    assert set(scores.method) == {"saliency", "gradcam"}
    for column in ("energy_share", "pointing", "random_energy_share", "area_share", "deletion_auc", "random_deletion_auc",
                   "energy_share_motion", "pointing_motion", "area_share_motion"):
        assert scores[column].between(0, 1).all(), column
    table = localisation_table(scores)
    assert list(table.method) == ["gradcam", "saliency"] and (table.clips == 2).all()
    assert {"energy_share", "energy_share_motion", "deletion_auc"} <= set(table.columns)
    # the spread over the clips each mean is taken over, beside the mean
    expected = scores.groupby(["method", "variant"])["energy_share"].std().to_numpy()
    np.testing.assert_allclose(table["energy_share_sd"].to_numpy(), expected)
    assert (table["pointing_sd"] >= 0).all()
    # each row also says where on the face its energy went, by the clip's class
    from mewb.explain.regions import FACE_REGIONS, region_table

    shares = scores[[f"share_{r}" for r in (*FACE_REGIONS, "other")]]
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, atol=1e-6)
    assert set(scores["landmarks"]) == {"synthme"} and set(scores["class"]) <= {"negative", "positive", "surprise"}
    regions = region_table(scores)
    assert len(regions) == len(scores.groupby(["variant", "method", "class"])) and regions["clips"].sum() == len(scores)


def test_each_sample_is_scored_and_embedded_by_its_own_fold_model(synth):
    _, samples = synth
    seen = []

    class Spy(torch.nn.Module):
        def __init__(self, subject):
            super().__init__()
            self.subject = subject
            self.inner = create_model("improved").eval()
            self.modalities = self.inner.modalities
            self.classifier = self.inner.classifier

        def forward(self, x):
            seen.append(self.subject)
            return self.inner(x)

        def features(self, x):
            seen.append(self.subject)
            return self.inner.features(x)

        def attention_modules(self):
            return []

    folds = {s: Spy(s) for s in ("sub01", "sub02")}
    features, meta = fold_embeddings(folds, samples, CONFIG, batch_size=2)
    assert features.shape == (6, 512) and list(meta.subject) == [s.subject for s in samples]
    assert seen.count("sub01") == 2 and seen.count("sub02") == 2  # 3 clips each, batches of 2
    coords = pca_2d(features)
    assert coords.shape == (6, 2) and np.array_equal(coords, pca_2d(features))
    seen.clear()
    scores = score_fold_models(folds, samples[:1], CONFIG, methods=("saliency",), deletion=False, progress=False)
    assert set(seen) == {samples[0].subject} and len(scores) == 1
    with pytest.raises(KeyError, match="sub02"):
        fold_embeddings({"sub01": folds["sub01"]}, samples, CONFIG)


def test_perturbations_keep_shape_and_change_the_frames():
    clip = np.broadcast_to(np.linspace(60, 180, 32).astype(np.uint8)[None, None, :, None], (4, 32, 32, 3)).copy()
    for name in PERTURBATIONS.names():
        out = perturb(clip, name, 2)
        assert out.shape == clip.shape and out.dtype == np.uint8
        assert not np.array_equal(out, clip), name
    assert np.array_equal(perturb(clip, "none", 3), clip)
    eyes = perturb(np.zeros((1, 100, 100, 3), np.uint8), "occlude_eyes", 1)
    assert eyes[0, 45, 50, 0] == 128 and eyes[0, 72, 50, 0] == 0  # eyes covered, mouth not
    mouth = perturb(np.zeros((1, 100, 100, 3), np.uint8), "occlude_mouth", 1)
    assert mouth[0, 72, 50, 0] == 128 and mouth[0, 45, 50, 0] == 0
    assert (perturb(clip, "occlude_mouth", 3) != clip).sum() > (perturb(clip, "occlude_mouth", 1) != clip).sum()
    flicker = perturb(clip, "flicker", 1).astype(int)
    assert flicker[0, 0, 16, 0] > clip[0, 0, 16, 0] > flicker[1, 0, 16, 0]
    with pytest.raises(ValueError, match="valid names"):
        perturb(clip, "rain", 1)


def test_robustness_table_has_a_clean_row_and_one_per_condition(synth):
    _, samples = synth
    torch.manual_seed(0)
    folds = {s: create_model("dual").eval() for s in ("sub01", "sub02")}
    picked = [samples[0], samples[3]]  # one clip per subject
    table = robustness_table({"dual": (folds, CONFIG)}, picked, perturbations=("brightness", "occlude_eyes"), severities=(2,))
    assert len(table) == 1 + 2
    assert list(table.columns[:6]) == ["variant", "perturbation", "severity", "accuracy", "uf1", "n"]
    clean = table[table.perturbation == "none"].iloc[0]
    assert clean.d_accuracy == 0 and (table.n == 2).all()
    assert table.accuracy.between(0, 1).all()


def test_perturbed_flow_is_computed_the_way_the_run_computed_it(synth):
    from mewb.data.pipeline import ClipPipeline
    from mewb.explain.robustness import perturbed_inputs

    _, samples = synth
    config = PreprocessConfig(clip_length=2, size=16, sampling="onset_apex", flow_mode="onset_apex",
                              flow_backend="farneback", flow_size=32, flow_stabilise=True)
    clean = ClipPipeline(config, ("flow",)).inputs(samples[0])["flow"]
    # A uniform brightness step on both frames leaves the motion alone: the recomputed flow must
    # match the run's own (computed at 32 px, stabilised, resized to 16), not a 16-px flow.
    shifted = perturbed_inputs(samples[0], config, ("flow",), "brightness", 1)["flow"]
    assert shifted.shape == clean.shape == (1, 3, 1, 16, 16)
    assert torch.allclose(shifted, clean, atol=0.05)


@pytest.mark.slow
def test_umap_is_reproducible_with_a_fixed_seed():
    from mewb.explain import project_2d, umap_2d

    rng = np.random.default_rng(0)
    features = np.concatenate([rng.normal(0, 1, (20, 16)), rng.normal(4, 1, (20, 16))]).astype(np.float32)
    a, b = umap_2d(features, seed=3), umap_2d(features, seed=3)
    assert a.shape == (40, 2) and np.array_equal(a, b)
    # the two blobs stay apart: every point is nearer its own blob's centre
    centres = np.stack([a[:20].mean(0), a[20:].mean(0)])
    nearest = np.argmin(((a[:, None] - centres[None]) ** 2).sum(-1), axis=1)
    assert (nearest == np.repeat([0, 1], 20)).all()
    assert project_2d(features, "pca").shape == (40, 2)
    with pytest.raises(ValueError, match="pca, umap"):
        project_2d(features, "tsne")
