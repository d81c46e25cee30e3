"""IM3DR-MFER: the configurable network every registered variant is built from.

One stream per input modality (``"frames"``, ``"flow"``) runs the stem and the stages up to
``fusion_stage``; the streams are fused (L2 normalisation + concatenation, see ``fusion.py``) and
the remaining stages are shared. MSCAF sits between stages 3 and 4, CASANet in stage 4's last
block (the paper's placement; ``casanet_stage=3`` puts it in stage 3's last block instead, where
its spatial map has twice the resolution: input side / 8 instead of / 16). With one modality, no groups, no MSCAF and no CASANet this is exactly a dense R3D-18.

Why fuse after stage 2 by default: stages 1-2 see high resolution, where appearance (texture,
shape) and motion (flow) features still differ in kind, so each modality gets its own filters;
stages 3-4 hold most of the parameters and see the face at 1/8 and 1/16 resolution, where a
shared trunk reasons about both together and halves the cost of a second deep stream. Fusing
after stage 1 is cheaper but leaves only the stem and stage 1 per modality; ``fusion_stage``
(1, 2 or 3) is configurable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

import torch
from torch import nn

from mewb.models.fusion import L2NormConcat
from mewb.models.layers.casanet import CASANet
from mewb.models.layers.mscaf import MSCAF
from mewb.models.resnet3d import WIDTHS, Stem, init_weights, make_stage

MODALITIES = ("frames", "flow")
MIN_SIZE = 16  # smallest H and W every model accepts (the stem and 3 strided stages reach 1x1)
# What the frames stream sees. "difference": each frame after the first minus the first (the onset),
# (N, C, T, H, W) -> (N, C, T - 1, H, W). The face's identity, lighting and texture cancel and what is
# left is what changed since the onset: the expression, plus head motion, blinks and noise.
FRAMES_INPUTS = ("raw", "difference")


class MicroExpressionNet(nn.Module):
    """A 3D ResNet18-based MER classifier over one or two modalities.

    ``forward({"frames": (N, C, T, H, W), "flow": (N, C, T', H, W)})`` returns logits
    ``(N, num_classes)``; only the modalities in ``self.modalities`` are read. Any ``T >= 1`` and
    ``H, W >= 16`` are accepted. ``features(...)`` returns the pooled embedding ``(N, 8 * width)``
    (``(N, 512)`` at the default width 64).
    """

    def __init__(
        self,
        *,
        num_classes: int = 3,
        modalities: Sequence[str] = ("frames",),  # input streams, any of "frames", "flow"
        in_channels: int = 3,  # channels of every input: frames RGB/grey x3, flow (u, v, strain)
        groups: int = 1,  # groups of every block's 3x3x3 convolutions (1 = dense R3D-18)
        mscaf: bool = False,  # MSCAF between stages 3 and 4
        casanet: bool = False,  # CASANet in the last block of stage `casanet_stage`
        casanet_stage: int = 4,  # 4: the paper's placement (at 32 px input its map is 2x2, at 64 px 4x4); 3: twice as fine
        fusion_stage: int = 2,  # streams are separate up to and including this stage (1-3)
        dropout: float = 0.0,  # before the classifier
        mscaf_rates: tuple[int, ...] = (1, 2, 3),  # spatial dilations of MSCAF's branches
        frames_input: str = "raw",  # "raw" (the paper) or "difference": frames 1..T-1 minus frame 0
        width: int = WIDTHS[0],  # channels of the stem and stage 1; stages 2-4 double it each (64: R3D-18)
    ) -> None:
        super().__init__()
        unknown = set(modalities) - set(MODALITIES)
        if not modalities or unknown:
            raise ValueError(f"modalities must be a non-empty subset of {MODALITIES}, got {tuple(modalities)}")
        if fusion_stage not in (1, 2, 3):
            raise ValueError(f"fusion_stage must be 1, 2 or 3, got {fusion_stage}")
        if casanet and not fusion_stage < casanet_stage <= 4:
            raise ValueError(f"casanet_stage must be in the shared trunk, stages {fusion_stage + 1}-4 "
                             f"(fusion_stage={fusion_stage}), got {casanet_stage}")
        if width < 8 or width % 8:
            raise ValueError(f"width must be a positive multiple of 8, got {width}")
        if frames_input not in FRAMES_INPUTS:
            raise ValueError(f"frames_input must be one of {FRAMES_INPUTS}, got {frames_input!r}")
        self.modalities = tuple(modalities)
        self.frames_input = frames_input
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.fusion_stage = fusion_stage
        widths = tuple(width * 2**index for index in range(4))  # (64, 128, 256, 512) at the default

        # Streams: stem + stages 1..fusion_stage, one per modality
        self.streams = nn.ModuleDict()
        for modality in self.modalities:
            layers: list[nn.Module] = [Stem(in_channels, widths[0])]
            channels = widths[0]
            for index in range(1, fusion_stage + 1):
                layers.append(make_stage(index, channels, widths[index - 1], groups=groups))
                channels = widths[index - 1]
            self.streams[modality] = nn.Sequential(*layers)
        self.fuse = L2NormConcat() if len(self.modalities) > 1 else None

        # Shared trunk: stages fusion_stage+1..4, MSCAF before stage 4
        channels = widths[fusion_stage - 1] * len(self.modalities)
        trunk: list[nn.Module] = []
        for index in range(fusion_stage + 1, 5):
            if index == 4 and mscaf:
                trunk.append(MSCAF(channels, rates=mscaf_rates, groups=max(groups, 1)))
            attention = partial(CASANet) if (index == casanet_stage and casanet) else None
            trunk.append(make_stage(index, channels, widths[index - 1], groups=groups, attention=attention))
            channels = widths[index - 1]
        self.trunk = nn.Sequential(*trunk)

        # Head
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(channels, num_classes)
        self.embedding_dim = channels
        init_weights(self)

    def _check(self, inputs: Mapping[str, torch.Tensor]) -> None:
        for modality in self.modalities:
            if modality not in inputs:
                raise ValueError(
                    f"this model reads {list(self.modalities)}; input {modality!r} is missing "
                    f"(got {sorted(inputs)})"
                )
            x = inputs[modality]
            if x.ndim != 5 or x.shape[1] != self.in_channels or x.shape[2] < 1 or min(x.shape[3:]) < MIN_SIZE:
                raise ValueError(
                    f"input {modality!r} must be (N, {self.in_channels}, T>=1, H>={MIN_SIZE}, W>={MIN_SIZE}), "
                    f"got shape {tuple(x.shape)}"
                )

    def features(self, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Pooled embedding ``(N, 8 * width)`` after the last stage (what UMAP plots)."""
        self._check(inputs)
        streams = [self.streams[m](self._stream_input(m, inputs[m])) for m in self.modalities]  # (N, C_s, T_s, H_s, W_s)
        x = self.fuse(streams) if self.fuse is not None else streams[0]
        x = self.trunk(x)  # (N, 8 * width, T', H', W')
        return self.pool(x).flatten(1)  # (N, 8 * width)

    def _stream_input(self, modality: str, x: torch.Tensor) -> torch.Tensor:
        """What stream ``modality`` reads: ``x`` itself, or for ``frames_input='difference'`` the
        frames ``(N, C, T, H, W)`` as ``x[:, :, 1:] - x[:, :, :1]`` ``(N, C, T - 1, H, W)``."""
        if modality == "frames" and self.frames_input == "difference":
            if x.shape[2] < 2:
                raise ValueError(f"frames_input='difference' needs at least 2 frames, got shape {tuple(x.shape)}")
            return x[:, :, 1:] - x[:, :, :1]
        return x

    def forward(self, inputs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.classifier(self.dropout(self.features(inputs)))

    def attention_modules(self) -> list[CASANet]:
        return [m for m in self.modules() if isinstance(m, CASANet)]

    def attention_maps(self) -> dict[str, torch.Tensor]:
        """CASANet's maps from the last forward pass, in [0, 1].

        Returns ``{"channel_time": (N, C, T'), "spatial_time": (N, T', H', W')}`` at the
        resolution of the stage CASANet sits in (``casanet_stage``: side / 16 in stage 4, / 8 in
        stage 3; upsample to the clip with ``mewb.explain``).
        """
        modules = self.attention_modules()
        if not modules:
            raise ValueError("this model has no CASANet attention (use the 'full' variant)")
        last = modules[-1]
        if last.spatial_time_map is None or last.channel_time_map is None:
            raise RuntimeError("no attention maps yet: run a forward pass first")
        return {"channel_time": last.channel_time_map, "spatial_time": last.spatial_time_map}
