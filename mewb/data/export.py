"""Export any dataset mewb reads as onset-apex flow images, in the layout the public releases use.

``mewb export flowimages --dataset NAME --data-root DIR --out DIR`` writes::

    DIR/
      manifest.csv         dataset,sub,filename_o,label,emotion,onset,apex,offset,uv_scale,strain_scale
      images/<sub>_<clip>.png    R = u, G = v, B = optical strain of the onset -> apex flow
      export.json          the preprocessing settings and the normalisation, in words and numbers

The images are what :mod:`mewb.data.flowimages` reads (``--dataset flowimages``), so the two
round-trip. Normalisation (also stated in ``export.json``): per clip, ``u`` and ``v`` are divided
by ``uv_scale``, the largest ``|u|`` or ``|v|`` of that clip, and stored as ``127.5 * (x + 1)``;
strain is divided by ``strain_scale``, its largest value, and stored as ``255 * x``. Both scales
are in the manifest, so the flow in pixels is ``(R / 127.5 - 1) * uv_scale``. Labels are the
MEGC2019 classes (0 negative, 1 positive, 2 surprise); clips of other emotions are left out
and counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mewb import jsonio
from mewb.data.pipeline import ClipPipeline
from mewb.data.preprocess import PreprocessConfig
from mewb.data.sample import Sample

EXPORT_SETTINGS = dict(clip_length=2, sampling="onset_apex", flow_mode="onset_apex")  # one onset -> apex flow
class ExportExistsError(FileExistsError, ValueError):
    """The output folder holds files already; an export never writes over them."""


MANIFEST_COLUMNS = ["dataset", "sub", "filename_o", "label", "emotion", "onset", "apex", "offset", "uv_scale",
                    "strain_scale"]


def export_preprocess(config: PreprocessConfig | None = None) -> PreprocessConfig:
    """``config`` (default: 28 px, Farneback at 64 px, stabilised) with one onset -> apex flow."""
    from dataclasses import replace

    base = config or PreprocessConfig(size=28, flow_backend="farneback", flow_size=64, flow_stabilise=True)
    return replace(base, **EXPORT_SETTINGS)


def flow_to_image(flow: np.ndarray) -> tuple[np.ndarray, float, float]:
    """``(3, 1, H, W)`` float flow (u, v, strain) -> ``(H, W, 3)`` uint8 RGB and its two scales."""
    u, v, strain = flow[0, 0], flow[1, 0], flow[2, 0]
    uv_scale = float(max(np.abs(u).max(), np.abs(v).max(), 1e-12))
    strain_scale = float(max(strain.max(), 1e-12))
    rgb = np.stack([127.5 * (u / uv_scale + 1.0), 127.5 * (v / uv_scale + 1.0), 255.0 * strain / strain_scale], axis=-1)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8), uv_scale, strain_scale


def export_flowimages(samples: Sequence[Sample], out: str | Path, *, dataset: str, class_names: Sequence[str],
                      preprocess: PreprocessConfig | None = None, cache=None) -> dict:
    """Write ``samples`` as flow images under ``out`` (a new or empty folder); returns a summary.

    Raises :class:`ExportExistsError` for a non-empty ``out`` (nothing a user made is overwritten).
    """
    import cv2
    import pandas as pd

    from mewb.atomic import atomic_write
    from mewb.data.labels import MEGC2019_3CLASS, MEGC3_CLASSES, megc3_label

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportExistsError(f"{out}: exists and is not empty; choose a new --out")
    config = export_preprocess(preprocess)
    pipeline = ClipPipeline(config, ("flow",), cache)
    rows, dropped = [], 0
    (out / "images").mkdir(parents=True, exist_ok=True)
    for sample in samples:
        if tuple(class_names) == MEGC3_CLASSES:
            label = sample.label
        elif dataset in MEGC2019_3CLASS:
            label = megc3_label(dataset, sample.emotion)
        else:
            raise ValueError(f"dataset {dataset!r} has classes {list(class_names)} and no map to the MEGC2019 classes")
        if label is None:
            dropped += 1
            continue
        rgb, uv_scale, strain_scale = flow_to_image(pipeline.flow(sample))
        name = f"{sample.subject}_{sample.clip}"
        ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        if not ok:
            raise ValueError(f"{sample.key}: could not encode its flow image")
        atomic_write(out / "images" / f"{name}.png", png.tobytes())
        rows.append({"dataset": sample.dataset, "sub": sample.subject, "filename_o": sample.clip, "label": label,
                     "emotion": MEGC3_CLASSES[label], "onset": sample.onset, "apex": sample.apex,
                     "offset": sample.offset, "uv_scale": uv_scale, "strain_scale": strain_scale})
    atomic_write(out / "manifest.csv", pd.DataFrame(rows, columns=MANIFEST_COLUMNS).to_csv(index=False))
    summary = {
        "source": dataset, "clips": len(rows), "dropped_other_emotions": dropped, "preprocess": config.to_dict(),
        "normalisation": "per clip: u, v -> 127.5 * (x / uv_scale + 1) with uv_scale = max |u|, |v|; "
                         "strain -> 255 * x / strain_scale with strain_scale = max strain; scales in manifest.csv",
        "channels": {"R": "u (horizontal flow)", "G": "v (vertical flow)", "B": "optical strain"},
        "labels": list(MEGC3_CLASSES),
    }
    atomic_write(out / "export.json", jsonio.dumps(summary, indent=2))
    return summary
