"""Argument helpers shared by the verbs: deprecated spellings, recipe options."""

from __future__ import annotations

import argparse
import sys


class Deprecated(argparse.Action):
    """An old flag kept for one release: it stores into the new flag's ``dest`` and says so once."""

    def __init__(self, option_strings, dest, new: str = "", **kwargs):
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"mewb: {option_string} is deprecated, use {self.new} (the old name goes in the next release)",
              file=sys.stderr)
        setattr(namespace, self.dest, True if self.nargs == 0 else values)


def add_deprecated(p: argparse.ArgumentParser, old: str, new: str, dest: str, **kwargs) -> None:
    """``old`` as a hidden alias of the option ``new`` (same ``dest``)."""
    p.add_argument(old, dest=dest, action=Deprecated, new=new, help=argparse.SUPPRESS, **kwargs)


def add_recipe_arguments(p: argparse.ArgumentParser) -> None:
    """``--recipe NAME|PATH`` and repeatable ``--set SECTION.KEY=VALUE``."""
    p.add_argument("--recipe", default=None,
                   help="named recipe (mewb recipe lists them: demo, quick), a recipe YAML or a run's config.yaml; "
                        "default: the library's defaults")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one setting, e.g. --set train.epochs=4 --set preprocess.flow_size=64 (repeatable; "
                        "sections: train, preprocess, execution, model_kwargs)")
    add_deprecated(p, "--config", "--recipe", "recipe")
