"""Named models: ``create_model(name)``, ``list_models()``, and the IM3DR-MFER ablation variants.

A variant is a registered function that only fixes arguments of ``MicroExpressionNet`` (any can
be overridden through ``create_model(name, **kwargs)``); ``model.modalities`` says which inputs it
reads, and :func:`data_defaults` the preprocessing it expects (EVM before flow for ``full``).

=============  =============================================================================
``r3d18``      dense 3D ResNet18 on frames, torchvision's R3D-18 layout: the reference every
               size and speed comparison is measured against (no dropout, as torchvision)
``baseline``   the paper's first ablation row: the same dense network, trained like the others
``flow_only``  improved backbone (grouped + shuffle + MSCAF) on optical flow only
``improved``   improved backbone on frames only
``dual``       two streams (frames + flow), L2-normalised concatenation, no CASANet
``full``       two streams + CASANet; EVM magnification before flow (a data option)
=============  =============================================================================
"""

from __future__ import annotations

from mewb.models.network import MicroExpressionNet
from mewb.registry import Registry

MODELS: Registry = Registry("model")

# Groups of the improved backbone's 3x3x3 convolutions, chosen by measurement (16x112x112, one
# clip, 2-core CPU, fwd+bwd at batch 2, all against r3d18 in one run):
#   groups=4, fusion after stage 2: `full` 29% params, 51% FLOPs, 1.4x faster fwd+bwd
#   groups=8, fusion after stage 2: `full` 15% params, 29% FLOPs, 1.6x faster fwd+bwd
#   groups=4, fusion after stage 1: `full` 27% params, 46% FLOPs (only the stem per modality)
# Stage 1 runs twice (once per stream) at full resolution and dominates the cost, so groups=4
# misses the paper's "lighter" aim (< 50% FLOPs); 8 meets it with two stages per modality.
DEFAULT_GROUPS = 8
DEFAULT_DROPOUT = 0.2  # for the ablation variants, so baseline and improved train alike

IMPROVED = dict(groups=DEFAULT_GROUPS, mscaf=True, dropout=DEFAULT_DROPOUT)

# What each variant expects of its data, as PreprocessConfig fields: read before any model is
# built (mewb.recipe.resolve), and below a recipe's or the user's own choice.
DATA_DEFAULTS = {"full": {"evm": True}}


def create_model(name: str, num_classes: int = 3, **kwargs) -> MicroExpressionNet:
    """Build the registered model ``name``; unknown names raise ``ValueError`` listing all."""
    model = MODELS.get(name)(num_classes=num_classes, **kwargs)
    model.name = name
    return model


def list_models() -> list[str]:
    return MODELS.names()


def data_defaults(name: str) -> dict:
    """The preprocessing settings variant ``name`` asks for (``{"evm": True}`` for ``full``); no model is built."""
    MODELS.get(name)  # unknown names fail here, listing the valid ones
    return dict(DATA_DEFAULTS.get(name, {}))


def _build(defaults: dict, num_classes: int, kwargs: dict) -> MicroExpressionNet:
    return MicroExpressionNet(num_classes=num_classes, **{**defaults, **kwargs})


@MODELS.register()
def r3d18(num_classes: int = 3, **kwargs) -> MicroExpressionNet:
    return _build(dict(modalities=("frames",)), num_classes, kwargs)


@MODELS.register()
def baseline(num_classes: int = 3, **kwargs) -> MicroExpressionNet:
    return _build(dict(modalities=("frames",), dropout=DEFAULT_DROPOUT), num_classes, kwargs)


@MODELS.register()
def flow_only(num_classes: int = 3, **kwargs) -> MicroExpressionNet:
    return _build(dict(modalities=("flow",), **IMPROVED), num_classes, kwargs)


@MODELS.register()
def improved(num_classes: int = 3, **kwargs) -> MicroExpressionNet:
    return _build(dict(modalities=("frames",), **IMPROVED), num_classes, kwargs)


@MODELS.register()
def dual(num_classes: int = 3, **kwargs) -> MicroExpressionNet:
    return _build(dict(modalities=("frames", "flow"), **IMPROVED), num_classes, kwargs)


@MODELS.register()
def full(num_classes: int = 3, **kwargs) -> MicroExpressionNet:
    return _build(dict(modalities=("frames", "flow"), casanet=True, **IMPROVED), num_classes, kwargs)
