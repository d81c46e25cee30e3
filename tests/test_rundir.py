"""The run directory: one schema, written and read by mewb.rundir alone, verified on every read."""

from __future__ import annotations

import pytest
import torch
import yaml
from fixtures.runs import write_fake_run

from mewb.data.preprocess import PreprocessConfig
from mewb.rundir import SCHEMA, RunConfig, RunDir, RunDirError, RunExistsError
from mewb.train.executors import Execution


def test_config_round_trips_through_yaml_exactly(tmp_path):
    run = write_fake_run(tmp_path / "r", preprocess=PreprocessConfig(clip_length=2, size=32, flow_size=64))
    doc = yaml.safe_load((run.path / "config.yaml").read_text())
    assert doc["schema"] == SCHEMA and doc["selection"] == "fixed epochs"
    assert list(doc) == ["schema", "variant", "model_kwargs", "num_classes", "protocol", "selection", "dataset",
                         "folds", "train", "preprocess", "execution"]
    assert RunDir.open(run.path).config == run.config
    assert RunConfig.from_dict(run.config.to_dict()) == run.config


@pytest.mark.parametrize("edit,needle", [
    (lambda d: d.pop("schema"), "missing key(s) ['schema']"),
    (lambda d: d.update(model="dual"), "unknown key(s) ['model']"),
    (lambda d: d["train"].update(epochz=3), "unknown training settings ['epochz']"),
    (lambda d: d["preprocess"].update(frames=4), "unknown preprocessing settings ['frames']"),
    (lambda d: d["dataset"].update(data_root="/x"), "unknown dataset key(s) ['data_root']"),
    (lambda d: d.update(schema=99), "schema 99"),
    (lambda d: d.update(selection="test-selected (leaky)"), "does not match train.selection"),
])
def test_a_foreign_or_older_config_is_refused_naming_file_and_key(tmp_path, edit, needle):
    run = write_fake_run(tmp_path / "r")
    path = run.path / "config.yaml"
    doc = yaml.safe_load(path.read_text())
    edit(doc)
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(RunDirError) as error:
        RunDir.open(run.path)
    assert str(path) in str(error.value) and needle in str(error.value)


def test_broken_yaml_is_one_error_naming_the_file(tmp_path):
    run = write_fake_run(tmp_path / "r")
    (run.path / "config.yaml").write_text("variant: [unclosed\n")
    with pytest.raises(RunDirError, match=r"config.yaml: not valid YAML"):
        RunDir.open(run.path)


def test_never_overwritten_and_resume_compares_the_experiment_not_the_execution(tmp_path):
    run = write_fake_run(tmp_path / "r")
    with pytest.raises(RunExistsError, match="--resume"):
        RunDir.create(run.path, run.config)
    other = RunConfig(**{**run.config.__dict__, "execution": Execution(threads=3)})
    assert RunDir.create(run.path, other, resume=True).config.execution.threads == 3
    changed = RunConfig(**{**run.config.__dict__, "train": run.config.train.replace(lr=0.1)})
    with pytest.raises(RunDirError, match=r"train.lr: 0.0005 \(run\) != 0.1 \(now\)"):
        RunDir.create(run.path, changed, resume=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunDirError, match="not a directory"):
        RunDir.create(tmp_path / "file", run.config)


def test_checkpoints_load_without_pickled_code_and_match_their_checksum(tmp_path):
    run = write_fake_run(tmp_path / "r", folds=("synth/sub01",))
    model = run.load_model("synth/sub01")
    assert not model.training and run.config.variant == "dual"
    path = run.checkpoint_path("synth/sub01")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside the weights
    path.write_bytes(bytes(data))
    with pytest.raises(RunDirError, match=f"{path}: checksum mismatch"):
        run.load_state_dict("synth/sub01")


def test_a_checkpoint_that_carries_code_is_refused(tmp_path):
    run = write_fake_run(tmp_path / "r", folds=("synth/sub01",))
    folder = run.fold_dir("synth/sub01")

    import hashlib
    import json
    from pathlib import PurePosixPath  # any class outside torch's allow-list: unpickling it would run code

    torch.save({"state_dict": {"w": torch.zeros(1)}, "extra": PurePosixPath("x")}, folder / "checkpoint.pt")
    record = json.loads((folder / "fold.json").read_text())
    record["checkpoint_sha256"] = hashlib.sha256((folder / "checkpoint.pt").read_bytes()).hexdigest()
    (folder / "fold.json").write_text(json.dumps(record))
    with pytest.raises(RunDirError, match="cannot load the checkpoint"):
        run.load_state_dict("synth/sub01")


def test_unfinished_folds_are_not_offered(tmp_path):
    run = write_fake_run(tmp_path / "r")
    (run.fold_dir("synth/sub02") / "fold.json").unlink()  # the "done" marker is written last
    assert run.finished_folds() == ["synth/sub01"] and not run.is_fold_finished("synth/sub02")
    with pytest.raises(FileNotFoundError, match="not finished"):
        run.load_state_dict("synth/sub02")


def test_compact_weights_halve_the_checkpoints_and_load_back_as_float32(tmp_path):
    import torch

    from mewb.rundir import RunDirError

    run = write_fake_run(tmp_path / "run", variant="flow_only", folds=("synth/sub01", "synth/sub02"))
    full = sum(run.checkpoint_path(f).stat().st_size for f in run.finished_folds())
    x = {"flow": torch.randn(2, 3, 2, 32, 32, generator=torch.Generator().manual_seed(0))}
    with torch.no_grad():
        before = run.load_model("synth/sub01")(x)
    kept = run.store_weights("compact")
    assert kept == sum(run.checkpoint_path(f).stat().st_size for f in run.finished_folds())
    assert 0.45 < kept / full < 0.55
    assert run.fold_record("synth/sub01")["weights"] == "compact"
    state = run.load_state_dict("synth/sub01")  # checked against the new checksum
    assert all(v.dtype != torch.float16 for v in state.values())
    with torch.no_grad():
        after = run.load_model("synth/sub01")(x)
    assert torch.allclose(before, after, rtol=1e-2, atol=1e-2) and not torch.equal(before, after)
    assert run.store_weights("compact") == kept  # idempotent

    assert run.store_weights("none") == 0
    assert not run.checkpoint_path("synth/sub01").exists()
    with pytest.raises(RunDirError, match="weights: none"):
        run.load_model("synth/sub01")
    # a weightless fold is still a finished fold: resume does not retrain it
    assert run.fold_problem("synth/sub01", set()) is None
    with pytest.raises(ValueError, match="unknown weights setting 'half'"):
        run.store_weights("half")
