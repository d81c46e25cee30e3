"""Mixed precision: ``auto`` is made concrete per device, recorded in the run, and bf16 trains on CPU."""

from __future__ import annotations

import pytest
import torch

from mewb import device as device_module
from mewb.data.preprocess import PreprocessConfig
from mewb.device import autocast, resolve_precision
from mewb.train import Execution, TrainConfig, run_loso
from mewb.train.toy import toy_dataset, toy_samples


def test_auto_follows_the_processor(monkeypatch):
    monkeypatch.setattr(device_module, "cpu_has_fast_bf16", lambda: True)
    assert resolve_precision("auto", "cpu") == "bf16"
    monkeypatch.setattr(device_module, "cpu_has_fast_bf16", lambda: False)
    assert resolve_precision("auto", "cpu") == "fp32"  # emulated bf16 is slower than fp32: never chosen
    assert resolve_precision("bf16", "cpu") == "bf16" and resolve_precision("fp32", "cpu") == "fp32"
    with pytest.raises(ValueError, match="fp16 needs CUDA"):
        resolve_precision("fp16", "cpu")
    with pytest.raises(ValueError, match="unknown precision"):
        TrainConfig(precision="fp8")


def test_autocast_contexts():
    x = torch.randn(4, 4)
    with autocast(torch.device("cpu"), "bf16"):
        assert (x @ x).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), "fp32"):
        assert (x @ x).dtype == torch.float32


def test_a_run_records_the_precision_it_used(tmp_path, monkeypatch):
    monkeypatch.setattr(device_module, "cpu_has_fast_bf16", lambda: True)
    result = run_loso(toy_samples(2, 4), out=tmp_path / "r", variant="flow_only",
                      train_config=TrainConfig(epochs=1, batch_size=4, precision="auto"),
                      preprocess_config=PreprocessConfig(clip_length=2, size=16), dataset_factory=toy_dataset,
                      execution=Execution(threads=1, progress=False, device="cpu"))
    assert result.config.train.precision == "bf16"  # what ran, not "auto"
    assert result.predictions[["prob_0", "prob_1", "prob_2"]].notna().all().all()


def test_a_channels_last_run_trains_records_it_and_saves_plain_tensors(tmp_path):
    from mewb.rundir import RunDir

    result = run_loso(toy_samples(2, 4), out=tmp_path / "r", variant="flow_only",
                      train_config=TrainConfig(epochs=1, batch_size=4, memory_format="channels_last"),
                      preprocess_config=PreprocessConfig(clip_length=2, size=16), dataset_factory=toy_dataset,
                      execution=Execution(threads=1, progress=False, device="cpu"))
    assert RunDir.open(tmp_path / "r").config.train.memory_format == "channels_last"
    assert result.predictions[["prob_0", "prob_1", "prob_2"]].notna().all().all()
    checkpoint = next((tmp_path / "r" / "folds").rglob("checkpoint.pt"))
    state = torch.load(checkpoint, weights_only=True)["state_dict"]
    assert all(t.is_contiguous() for t in state.values())
    with pytest.raises(ValueError, match="unknown memory_format"):
        TrainConfig(memory_format="nhwc")


def test_the_cli_shorthands_set_precision_and_memory_format():
    from mewb.cli import build_parser
    from mewb.commands.train import overrides_from

    args = build_parser().parse_args(["loso", "--dataset", "synth", "--out", "r", "--precision", "bf16",
                                      "--memory-format", "channels_last"])
    assert {"train.precision=bf16", "train.memory_format=channels_last"} <= set(overrides_from(args))
