"""Recipes: one schema for CLI, notebooks, report and benchmark; the resolution order, tested."""

from __future__ import annotations

import pytest
import yaml
from fixtures.runs import write_fake_run

from mewb.data.preprocess import PreprocessConfig
from mewb.recipe import list_recipes, load_recipe, parse_overrides, resolve
from mewb.train.config import TrainConfig


def test_named_recipes_ship_and_resolve_for_every_variant():
    from mewb.models import list_models

    assert {"demo", "quick"} <= set(list_recipes())
    for name in list_recipes():
        for variant in list_models():
            resolved = resolve(variant, name)
            assert resolved.variant == variant and resolved.recipe == name


def test_the_demo_recipe_is_what_the_demo_trained_with():
    demo = resolve("dual", "demo")
    assert (demo.train.epochs, demo.train.batch_size, demo.train.lr) == (12, 8, 1e-3)
    assert demo.model_kwargs == {"frames_input": "difference", "width": 32}
    assert demo.preprocess == PreprocessConfig(clip_length=2, size=32, sampling="onset_apex", flow_mode="onset_apex",
                                               flow_backend="farneback", flow_size=128, flow_stabilise=True)
    assert demo.execution.executor == "process"


def test_precedence_override_beats_recipe_beats_variant_beats_library(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("train: {epochs: 5}\npreprocess: {size: 40}\n")
    # library default
    assert resolve("dual").preprocess.evm is False and resolve("dual").train.epochs == TrainConfig().epochs
    # variant default over library default
    full = resolve("full", recipe)
    assert full.preprocess.evm is True and full.sources["preprocess.evm"] == "variant"
    # recipe over variant default, and over library default
    recipe.write_text("train: {epochs: 5}\npreprocess: {size: 40, evm: false}\n")
    full = resolve("full", recipe)
    assert full.preprocess.evm is False and full.train.epochs == 5 and full.sources["train.epochs"] == "recipe"
    # explicit override over the recipe
    over = resolve("full", recipe, ["train.epochs=2", "preprocess.evm=true", "execution.threads=1"])
    assert (over.train.epochs, over.preprocess.evm, over.execution.threads) == (2, True, 1)
    assert over.sources["train.epochs"] == "override" and over.sources["train.lr"] == "default"
    # the caller's variant beats the recipe's; a variant override beats both
    recipe.write_text("variant: flow_only\n")
    assert resolve(None, recipe).variant == "flow_only" and resolve("dual", recipe).variant == "dual"
    assert resolve("dual", recipe, ["variant=improved"]).variant == "improved"


@pytest.mark.parametrize("overrides,needle", [
    (["train.epochz=3"], "unknown train setting 'epochz'; valid: epochs, batch_size"),
    (["training.epochs=3"], "unknown section 'training'; valid: train, preprocess, execution"),
    (["epochs=3"], "write SECTION.KEY=VALUE"),
    (["train.epochs"], "write SECTION.KEY=VALUE"),
    (["preprocess.flow_backend=bogus"], "unknown flow backend 'bogus'; valid names: dis, farneback"),
    (["preprocess.sampling=every"], "unknown sampling 'every'; valid: uniform"),
    (["execution.executor=slurm"], "unknown executor 'slurm'; valid: inprocess, process, dask"),
])
def test_bad_overrides_list_the_valid_keys(overrides, needle):
    with pytest.raises(ValueError) as error:
        resolve("full", "demo", overrides)
    assert needle in str(error.value)


def test_override_values_are_yaml_scalars_and_a_string_holds_several():
    parsed = parse_overrides("train.epochs=4; preprocess.flow_size=null; preprocess.flow_stabilise=true")
    assert parsed["train"] == {"epochs": 4} and parsed["preprocess"] == {"flow_size": None, "flow_stabilise": True}


def test_a_runs_config_is_a_recipe_and_old_spellings_warn(tmp_path):
    run = write_fake_run(tmp_path / "run", preprocess=PreprocessConfig(clip_length=3, size=40))
    again = resolve(None, run.path)  # the run directory (its config.yaml) as the recipe
    assert again.variant == "dual" and again.preprocess == run.config.preprocess and again.train == run.config.train
    old = tmp_path / "old.yaml"
    old.write_text(yaml.safe_dump({"preprocess": {"frames": 6}, "train": {"num_workers": 2}}))
    with pytest.warns(FutureWarning, match="preprocess.frames is now preprocess.clip_length"):
        resolved = resolve("dual", old)
    assert resolved.preprocess.clip_length == 6 and resolved.execution.loader_workers == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainer: {epochs: 1}\n")
    with pytest.raises(ValueError, match=r"bad.yaml: unknown recipe key\(s\) \['trainer'\]"):
        load_recipe(bad)
    with pytest.raises(FileNotFoundError, match="not a named recipe"):
        load_recipe("no-such-recipe")


def test_the_recipe_verb_lists_and_explains(capsys):
    from mewb.cli import main

    assert main(["recipe"]) == 0
    assert "demo" in capsys.readouterr().out
    assert main(["recipe", "demo", "--variant", "full", "--set", "train.epochs=3"]) == 0
    printed = capsys.readouterr().out
    doc = yaml.safe_load(printed)
    assert doc["variant"] == "full" and doc["train"]["epochs"] == 3 and doc["preprocess"]["evm"] is True
    assert "#   preprocess.evm: variant" in printed and "#   train.epochs: override" in printed
    assert main(["recipe", "demo", "--set", "train.epochz=3"]) == 2
    assert "unknown train setting 'epochz'" in capsys.readouterr().err
