"""The IM3DR-MFER model family: ``create_model(name)``, ``list_models()``."""

from mewb.models.network import MicroExpressionNet
from mewb.models.registry import MODELS, create_model, data_defaults, list_models

__all__ = ["MODELS", "MicroExpressionNet", "create_model", "data_defaults", "list_models"]
