"""Recipes: how to train, as data. One schema for the CLI, the notebooks, the report and the benchmark.

A recipe is a YAML mapping in the schema of a run's ``config.yaml`` (:mod:`mewb.rundir`), with
every section optional and only the settings it cares about::

    variant: full            # optional: the model variant when the caller names none
    model_kwargs: {}         # optional: create_model keyword arguments
    train: {epochs: 8}       # TrainConfig fields
    preprocess: {size: 32}   # PreprocessConfig fields
    execution: {executor: process}   # Execution fields (speed only, never the numbers' meaning)

Named recipes live in ``mewb/recipes/NAME.yaml`` (``demo``, ``quick``; :func:`list_recipes`);
any other file path works too, and so does a run's ``config.yaml`` (its ``dataset``, ``folds``,
``protocol`` and ``num_classes`` say what it was trained on and are not used).

Resolution order, later wins (:func:`resolve`): library defaults (the dataclasses) < the
variant's data defaults (``mewb.models.data_defaults``, e.g. EVM for ``full``) < the recipe <
explicit overrides (``train.epochs=4``: ``--set`` on the command line, ``overrides`` in the
notebooks). An unknown section or key is an error listing the valid ones.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Iterable

import yaml

from mewb.data.preprocess import PreprocessConfig
from mewb.train.config import TrainConfig
from mewb.train.executors import Execution

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
SECTIONS = {"train": TrainConfig, "preprocess": PreprocessConfig, "execution": Execution}
# Keys of a run's config.yaml that describe what it ran on, not how: allowed in a recipe, unused.
RUN_ONLY = ("schema", "num_classes", "protocol", "selection", "dataset", "folds")
TOP_LEVEL = ("variant", "model_kwargs", *SECTIONS)
# Old spellings, accepted for one release with a FutureWarning (shown to users) (section, old) -> new.
RENAMED = {("preprocess", "frames"): "clip_length", ("train", "num_workers"): None, ("train", "device"): None,
           ("train", "threads"): None}
MOVED_TO_EXECUTION = {"num_workers": "loader_workers", "device": "device", "threads": "threads"}


@dataclass(frozen=True)
class Recipe:
    """What a recipe sets, section by section (only the keys it names: the rest stays open to
    the variant's and the library's defaults)."""

    name: str = "defaults"
    variant: str | None = None
    model_kwargs: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    preprocess: dict = field(default_factory=dict)
    execution: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        doc: dict = {}
        if self.variant:
            doc["variant"] = self.variant
        if self.model_kwargs:
            doc["model_kwargs"] = dict(self.model_kwargs)
        for section in SECTIONS:
            if getattr(self, section):
                doc[section] = dict(getattr(self, section))
        return doc


@dataclass(frozen=True)
class Resolved:
    """A recipe made concrete for one variant: the configs a run is built from, and where each
    setting came from (``sources["train.epochs"] == "recipe"``)."""

    variant: str
    model_kwargs: dict
    train: TrainConfig
    preprocess: PreprocessConfig
    execution: Execution
    recipe: str
    sources: dict = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict:
        return {"variant": self.variant, "model_kwargs": dict(self.model_kwargs), "train": self.train.to_dict(),
                "preprocess": self.preprocess.to_dict(), "execution": self.execution.to_dict()}


def list_recipes() -> list[str]:
    """The named recipes shipped with mewb."""
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def recipe_path(name_or_path: str | Path) -> Path:
    """``demo`` -> ``mewb/recipes/demo.yaml``; a path (or a run directory) is used as it is."""
    text = str(name_or_path)
    if text in list_recipes():
        return RECIPES_DIR / f"{text}.yaml"
    path = Path(text).expanduser()
    if path.is_dir() and (path / "config.yaml").is_file():
        return path / "config.yaml"
    if path.is_file():
        return path
    raise FileNotFoundError(f"recipe {text!r}: no such file, and not a named recipe ({', '.join(list_recipes())})")


def load_recipe(name_or_path: str | Path | None) -> Recipe:
    """A named recipe, a recipe file or a run's ``config.yaml``; ``None``: the library defaults."""
    if name_or_path is None or str(name_or_path) in ("", "defaults"):
        return Recipe()
    from mewb.rundir import read_yaml

    path = recipe_path(name_or_path)
    doc = read_yaml(path)
    name = str(name_or_path) if str(name_or_path) in list_recipes() else str(path)
    return recipe_from_dict(doc or {}, name=name, source=str(path))


def recipe_from_dict(doc: dict, *, name: str = "inline", source: str = "recipe") -> Recipe:
    """Validate a recipe mapping: sections and keys must exist (old spellings are translated)."""
    if not isinstance(doc, dict):
        raise ValueError(f"{source}: a recipe is a YAML mapping, got {type(doc).__name__}")
    unknown = sorted(set(doc) - set(TOP_LEVEL) - set(RUN_ONLY) - {"description"})
    if unknown:
        raise ValueError(f"{source}: unknown recipe key(s) {unknown}; valid: {', '.join(TOP_LEVEL)}")
    sections: dict[str, dict] = {s: {} for s in SECTIONS}
    for section in SECTIONS:
        values = doc.get(section) or {}
        if not isinstance(values, dict):
            raise ValueError(f"{source}: section {section!r} must be a mapping, got {type(values).__name__}")
        for key, value in values.items():
            target_section, target = _translate(section, key, source)
            _check_key(target_section, target, source)
            sections[target_section][target] = value
    variant = doc.get("variant")
    if variant is not None and not isinstance(variant, str):
        raise ValueError(f"{source}: variant must be a name, got {variant!r}")
    model_kwargs = doc.get("model_kwargs") or {}
    if not isinstance(model_kwargs, dict):
        raise ValueError(f"{source}: model_kwargs must be a mapping")
    return Recipe(name=name, variant=variant, model_kwargs=dict(model_kwargs), **sections)


def parse_overrides(overrides: Iterable[str] | str | None) -> dict[str, dict]:
    """``["train.epochs=4", "preprocess.flow_size=64", "variant=dual"]`` -> values by section.

    A string holds overrides separated by ``;`` (a notebook parameter). Values are read as YAML
    scalars (``4`` is an int, ``true`` a bool, ``null`` None). An unknown section or key raises
    ``ValueError`` listing the valid ones.
    """
    if isinstance(overrides, str):
        overrides = [part.strip() for part in overrides.split(";") if part.strip()]
    out: dict[str, dict] = {"": {}, **{s: {} for s in SECTIONS}, "model_kwargs": {}}
    for item in overrides or ():
        key, sep, text = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"override {item!r}: write SECTION.KEY=VALUE, e.g. train.epochs=4")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        section, dot, name = key.partition(".")
        if not dot:
            if key != "variant":
                raise ValueError(f"override {item!r}: unknown key {key!r}; write SECTION.KEY=VALUE with SECTION one of "
                                 f"{', '.join([*SECTIONS, 'model_kwargs'])} (or variant=NAME)")
            out[""]["variant"] = value
            continue
        if section == "model_kwargs":
            out["model_kwargs"][name] = value
            continue
        if section not in SECTIONS:
            raise ValueError(f"override {item!r}: unknown section {section!r}; valid: {', '.join([*SECTIONS, 'model_kwargs'])}")
        target_section, target = _translate(section, name, f"override {item!r}")
        _check_key(target_section, target, f"override {item!r}")
        out[target_section][target] = value
    return out


def resolve(variant: str | None = None, recipe: Recipe | str | Path | None = None,
            overrides: Iterable[str] | str | dict | None = None) -> Resolved:
    """The configs of one run: library defaults < variant defaults < recipe < overrides.

    ``variant`` (the caller's choice) beats the recipe's ``variant``; an override
    ``variant=NAME`` beats both. The default variant is ``full``.
    """
    from mewb.models import data_defaults

    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    given = overrides if isinstance(overrides, dict) else parse_overrides(overrides)
    name = given.get("", {}).get("variant") or variant or recipe.variant or "full"
    layers = [("variant", {"preprocess": data_defaults(name)}), ("recipe", recipe.to_dict()), ("override", given)]
    values: dict[str, dict] = {s: {} for s in SECTIONS}
    sources: dict[str, str] = {}
    for label, layer in layers:
        for section in SECTIONS:
            for key, value in (layer.get(section) or {}).items():
                values[section][key] = value
                sources[f"{section}.{key}"] = label
    model_kwargs = {**recipe.model_kwargs, **(given.get("model_kwargs") or {})}
    try:
        built = {section: cls.from_dict(values[section]) for section, cls in SECTIONS.items()}
    except (TypeError, ValueError) as error:
        raise ValueError(f"recipe {recipe.name!r}: {error}") from None
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            sources.setdefault(f"{section}.{f.name}", "default")
    return Resolved(variant=name, model_kwargs=model_kwargs, recipe=recipe.name, sources=sources, **built)


def _check_key(section: str, key: str, source: str) -> None:
    valid = [f.name for f in fields(SECTIONS[section])]
    if key not in valid:
        raise ValueError(f"{source}: unknown {section} setting {key!r}; valid: {', '.join(valid)}")


def _translate(section: str, key: str, source: str) -> tuple[str, str]:
    """Old spellings to new ones, with a deprecation message (accepted for one release)."""
    if (section, key) not in RENAMED:
        return section, key
    if section == "train":
        new_section, new_key = "execution", MOVED_TO_EXECUTION[key]
    else:
        new_section, new_key = section, RENAMED[(section, key)]
    warnings.warn(f"{source}: {section}.{key} is now {new_section}.{new_key}; the old name goes in the next release",
                  FutureWarning, stacklevel=3)
    return new_section, new_key
