"""The clip pipeline's cache keys: every setting and annotation a stage reads is in its key.

Property (checked setting by setting on a real SynthME clip): perturb one setting or one
annotation field; either the stage's key changes, or the stage's output is byte-identical. A
key that stays while the output moves would serve stale arrays from the cache.
"""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest

from mewb.data.cache import PreprocessCache
from mewb.data.pipeline import ClipPipeline, FlowStage, FramesStage
from mewb.data.preprocess import PreprocessConfig

BASES = {
    "plain": PreprocessConfig(clip_length=4, size=24, flow_backend="farneback"),
    "evm+flow_size": PreprocessConfig(clip_length=4, size=24, flow_backend="farneback", evm=True, flow_size=32),
}
# another valid value for every setting (booleans flip)
CHANGES = {
    "clip_length": 3, "size": 20, "sampling": "interpolate", "colour": "rgb", "align": None, "evm": None,
    "evm_alpha": 8.0, "evm_low_hz": 2.0, "evm_high_hz": 20.0, "evm_levels": 2, "flow_backend": "dis",
    "flow_mode": "consecutive", "flow_normalise": "clip_max", "flow_scale": 2.0, "flow_stabilise": None,
    "flow_size": 40,
}


def changed(config: PreprocessConfig, setting: str) -> PreprocessConfig:
    value = CHANGES[setting]
    return replace(config, **{setting: (not getattr(config, setting)) if value is None else value})


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from mewb.data.synth import read
    from mewb.synth import SynthConfig, generate_dataset

    root = generate_dataset(tmp_path_factory.mktemp("synth") / "s",
                            SynthConfig(subjects=1, clips_per_subject=1, size=32, frames=48, seed=5, workers=1))
    return read(root)[0]


def test_every_setting_is_covered_by_the_change_table():
    assert set(CHANGES) == {f.name for f in fields(PreprocessConfig)}


@pytest.mark.parametrize("base", BASES, ids=list(BASES))
@pytest.mark.parametrize("setting", sorted(CHANGES))
def test_a_setting_either_changes_the_key_or_leaves_the_arrays_alone(sample, base, setting):
    config = BASES[base]
    for stage, make in ((FramesStage, lambda p: p.frames(sample)), (FlowStage, lambda p: p.flow(sample))):
        before, after = ClipPipeline(config), ClipPipeline(changed(config, setting))
        if before.key(sample, stage) != after.key(sample, stage):
            continue
        assert np.array_equal(make(before), make(after)), f"{stage.name}: {setting} changes the output, not the key"


@pytest.mark.parametrize("field,value", [("onset", 3), ("apex", 12), ("offset", 30), ("fps", 100.0)])
def test_an_edited_annotation_changes_every_key(sample, field, value):
    edited = replace(sample, **{field: value})
    pipeline = ClipPipeline(BASES["plain"])
    for stage in (FramesStage, FlowStage):
        assert pipeline.key(sample, stage) != pipeline.key(edited, stage), (stage.name, field)


def test_declared_settings_change_the_key():
    """Each setting a stage declares is in its key (the converse of the property above)."""
    config = BASES["evm+flow_size"]
    for stage in (FramesStage, FlowStage):
        declared = stage.settings(config)
        for setting in CHANGES:
            if setting in declared:
                assert stage.settings(changed(config, setting)) != declared, (stage.name, setting)


def test_inputs_are_the_cached_arrays_as_batched_tensors(sample, tmp_path):
    pipeline = ClipPipeline(BASES["plain"], cache=PreprocessCache(tmp_path))
    arrays = pipeline.arrays(sample)
    inputs = pipeline.inputs(sample)  # a second call: read from the cache
    assert inputs["frames"].shape == (1, 3, 4, 24, 24) and inputs["flow"].shape == (1, 3, 3, 24, 24)
    np.testing.assert_array_equal(inputs["flow"][0].numpy(), arrays["flow"])
    assert PreprocessCache(tmp_path).info()["entries"] == 2  # frames and flow, once each
    assert set(ClipPipeline(BASES["plain"], ("flow",)).tensors(sample)) == {"flow"}
