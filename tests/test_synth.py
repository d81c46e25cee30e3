"""SynthME: AU fields, timing, amplitude, layout, determinism, photo mode, and the label-in-motion proof."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from mewb.cli import main
from mewb.synth import (
    SHEET_COLUMNS,
    SHEET_NAME,
    OutputExistsError,
    SynthConfig,
    appearance_vs_motion,
    au_field,
    example_clip,
    face_from_photo,
    generate_dataset,
    make_clip,
    random_identity,
    render_face,
)
from mewb.synth.emotions import CLASSES, THREE_CLASS_OF, draw_expression
from mewb.synth.generator import class_counts

SMALL = SynthConfig(subjects=2, clips_per_subject=3, size=48, frames=48, seed=7, workers=1)


def _hash_tree(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("synth") / "ds", SMALL)


@pytest.fixture(scope="module")
def face():
    return render_face(random_identity(np.random.default_rng(3)), 128)


# --------------------------------------------------------------------------- action units

def _peak(field: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mag = np.sqrt((field**2).sum(-1))
    y, x = np.unravel_index(mag.argmax(), mag.shape)
    return np.array([x, y], float), mag


@pytest.mark.parametrize(
    "au, anchors, far",
    [
        (1, ("brow_r_inner", "brow_l_inner"), "mouth_corner_r"),
        (2, ("brow_r_outer", "brow_l_outer"), "mouth_corner_r"),
        (4, ("brow_r_inner", "brow_l_inner"), "chin"),
        (6, ("cheek_r", "cheek_l"), "chin"),
        (7, ("eye_r", "eye_l"), "chin"),
        (9, ("nose_wing_r", "nose_wing_l"), "chin"),
        (10, ("upper_lip", "nose_wing_r", "nose_wing_l"), "brow_r_outer"),
        (12, ("mouth_corner_r", "mouth_corner_l"), "brow_r_inner"),
        (14, ("mouth_corner_r", "mouth_corner_l"), "brow_r_inner"),
        (15, ("mouth_corner_r", "mouth_corner_l"), "brow_r_inner"),
        (17, ("chin", "lower_lip"), "brow_r_inner"),
        (25, ("lower_lip", "upper_lip"), "brow_r_inner"),
    ],
)
def test_au_field_is_localised_at_its_landmarks(face, au, anchors, far):
    reg = face.regions
    field = au_field(au, reg, (128, 128))
    peak, mag = _peak(field)
    assert mag.max() == pytest.approx(1.0, abs=1e-5)
    nearest = min(np.linalg.norm(peak - np.array(getattr(reg, a))) for a in anchors)
    assert nearest < 0.35 * reg.scale, f"AU{au} peaks {nearest:.1f}px from {anchors}"
    fx, fy = (int(round(v)) for v in getattr(reg, far))
    assert mag[fy, fx] < 0.02, f"AU{au} moves the {far}"
    assert (mag > 0.1).mean() < 0.2  # a local patch, not the whole face


def test_au_directions_follow_facs(face):
    reg = face.regions

    def at(field, point):
        x, y = (int(round(v)) for v in point)
        return field[y, x]

    assert at(au_field(12, reg, (128, 128)), reg.mouth_corner_r)[1] < 0  # smile: corners up
    assert at(au_field(12, reg, (128, 128)), reg.mouth_corner_r)[0] < 0  # ... and outwards
    assert at(au_field(15, reg, (128, 128)), reg.mouth_corner_l)[1] > 0  # depressor: down
    assert at(au_field(1, reg, (128, 128)), reg.brow_l_inner)[1] < 0  # brow raiser: up
    assert at(au_field(4, reg, (128, 128)), reg.brow_l_inner)[1] > 0  # brow lowerer: down
    assert at(au_field(25, reg, (128, 128)), reg.lower_lip)[1] > 0  # lips part: lower lip down


def test_unilateral_au_moves_one_side_only(face):
    field = au_field(12, face.regions, (128, 128), side="R")  # subject's right = image left
    mag = np.sqrt((field**2).sum(-1))
    mid = int(face.regions.face_center[0])
    assert mag[:, :mid].max() > 0.9
    assert mag[:, mid + 10:].max() < 0.02
    with pytest.raises(ValueError, match="AU99"):
        au_field(99, face.regions, (64, 64))


# --------------------------------------------------------------------------- emotions

def test_emotion_recipes_follow_facs():
    rng = np.random.default_rng(0)
    for _ in range(50):
        assert 12 in draw_expression("positive", rng).aus
        assert set(draw_expression("surprise", rng).aus) & {1, 2}
        assert set(draw_expression("negative", rng).aus) <= {4, 7, 9, 10, 14, 15, 17}
        assert set(draw_expression("others", rng).aus) <= {4, 7}
    assert CLASSES[3] == ("negative", "positive", "surprise")
    assert {THREE_CLASS_OF[w] for w in CLASSES[5]} == set(CLASSES[3])
    with pytest.raises(ValueError, match="valid"):
        draw_expression("joy", rng)


def test_class_balance_presets():
    composite = SynthConfig(subjects=2, clips_per_subject=221, balance="composite")
    assert class_counts(composite) == [250, 109, 83]
    assert class_counts(SynthConfig()) == [32, 32, 32]
    with pytest.raises(ValueError, match="composite"):
        SynthConfig(classes=5, balance="composite").validate()


# --------------------------------------------------------------------------- timing and amplitude

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_motion_peaks_at_apex_and_is_zero_outside_the_movement(seed):
    config = SynthConfig(size=64)
    clip = make_clip(("negative", "positive", "surprise")[seed], seed=seed, config=config)
    t, h, w = clip.motion.shape
    assert clip.frames.shape == (t, h, w, 3) and clip.frames.dtype == np.uint8
    assert clip.motion.dtype == np.float32 and clip.mask.shape == (h, w)
    per_frame = clip.motion.reshape(t, -1).max(1)
    assert per_frame.argmax() + 1 == clip.apex
    assert 1 <= clip.onset < clip.apex < clip.offset <= t
    assert np.all(per_frame[: clip.onset] == 0) and np.all(per_frame[clip.offset - 1:] == 0)
    duration_s = (clip.offset - clip.onset) / config.fps
    assert 1 / 25 - 1e-9 <= duration_s <= 1 / 5 + 1e-9
    limit = config.amplitude_px * config.size / 128
    assert per_frame.max() <= limit * 1.01  # never more than the configured micro amplitude
    assert per_frame.max() >= config.min_amplitude * limit * 0.9
    assert 0 < clip.mask.mean() < 0.3  # the expression is local


def test_nuisances_do_not_depend_on_the_class():
    """Same seed, different class: same timing, and frames before onset are identical."""
    a, b = make_clip("positive", seed=11), make_clip("surprise", seed=11)
    assert (a.onset, a.apex, a.offset) == (b.onset, b.apex, b.offset)
    assert np.array_equal(a.frames[: a.onset], b.frames[: b.onset])
    assert not np.array_equal(a.frames[a.apex - 1], b.frames[b.apex - 1])


def test_example_clip_is_reproducible():
    a, b = example_clip(seed=4), example_clip(seed=4)
    assert np.array_equal(a.frames, b.frames) and a.action_units == b.action_units


# --------------------------------------------------------------------------- the dataset on disk

def test_casme2_layout_sheet_and_ground_truth(small_dataset):
    root = small_dataset
    sheet = pd.read_excel(root / SHEET_NAME)
    assert tuple(sheet.columns) == SHEET_COLUMNS
    assert len(sheet) == 6 and sheet["Subject"].tolist() == [1, 1, 1, 2, 2, 2]
    assert sheet["Filename"].tolist()[:3] == ["EP01_01", "EP02_01", "EP03_01"]
    assert set(sheet["Estimated Emotion"]) <= set(CLASSES[3])
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["seed"] == 7 and manifest["config"]["size"] == 48 and len(manifest["clips"]) == 6
    assert sum(manifest["class_counts"].values()) == 6
    for row in sheet.itertuples(index=False):
        folder = root / f"sub{row.Subject:02d}" / row.Filename
        frames = sorted(folder.iterdir(), key=lambda p: int(p.stem[3:]))
        assert [p.name for p in frames] == [f"img{i}.jpg" for i in range(1, 49)]
        assert cv2.imread(str(frames[0])).shape == (48, 48, 3)
        gt = np.load(root / "ground_truth" / f"sub{row.Subject:02d}" / f"{row.Filename}.npz")
        assert gt["motion"].dtype == np.float32 and gt["motion"].shape == (48, 48, 48)
        assert gt["mask"].dtype == bool and gt["mask"].shape == (48, 48)
        assert (int(gt["onset"]), int(gt["apex"]), int(gt["offset"])) == (row.OnsetFrame, row.ApexFrame, row.OffsetFrame)
        assert str(gt["action_units"]) == row[5] and str(gt["emotion"]) == row[6]
        assert CLASSES[3][int(gt["label"])] == row[6]
        assert gt["motion"][row.ApexFrame - 1].max() == gt["motion"].max()


def test_same_seed_same_files_other_seed_other_files(small_dataset, tmp_path):
    again = generate_dataset(tmp_path / "again", SynthConfig(**{**SMALL.__dict__, "workers": 2}))
    assert _hash_tree(again) == _hash_tree(small_dataset)
    other = generate_dataset(tmp_path / "other", SynthConfig(**{**SMALL.__dict__, "seed": 8}))
    assert _hash_tree(other) != _hash_tree(small_dataset)


def test_refuses_to_overwrite(small_dataset):
    with pytest.raises(OutputExistsError, match=str(small_dataset)):
        generate_dataset(small_dataset, SMALL)
    assert issubclass(OutputExistsError, ValueError)


def test_cli_synth(tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["synth", str(out), "--subjects", "1", "--clips-per-subject", "2", "--size", "32"]) == 0
    assert (out / SHEET_NAME).exists() and (out / "sub01" / "EP02_01" / "img1.jpg").exists()
    assert main(["synth", str(out)]) == 2
    assert str(out) in capsys.readouterr().err


# --------------------------------------------------------------------------- photo mode

@pytest.fixture(scope="module")
def astronaut_file(tmp_path_factory) -> Path:
    from skimage.data import astronaut

    path = tmp_path_factory.mktemp("photo") / "astronaut.png"
    cv2.imwrite(str(path), astronaut()[..., ::-1])  # RGB -> BGR
    return path


def test_photo_mode_animates_a_real_face(astronaut_file):
    photo = face_from_photo(astronaut_file, 96)
    reg = photo.regions
    assert photo.image.shape == (96, 96, 3)
    assert reg.eye_r[0] < reg.eye_l[0]  # subject's right eye on the image left
    assert reg.eye_r[1] < reg.nose_tip[1] < reg.upper_lip[1] < reg.chin[1]
    assert 0.2 * 96 < reg.eye_l[0] - reg.eye_r[0] < 0.6 * 96
    clip = make_clip("positive", seed=1, config=SynthConfig(size=96), face=photo)
    ys, xs = np.nonzero(clip.mask)
    assert ys.mean() > reg.eye_r[1]  # a smile moves the lower face
    assert clip.frames.shape[1:] == (96, 96, 3)


def test_photo_mode_names_the_file_without_a_face(tmp_path):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 128, np.uint8))
    with pytest.raises(ValueError, match="blank.png.*no face"):
        face_from_photo(blank, 64)
    with pytest.raises(FileNotFoundError, match="missing.png"):
        face_from_photo(tmp_path / "missing.png", 64)
    with pytest.raises(ValueError, match="blank.png"):
        generate_dataset(tmp_path / "out", SynthConfig(subjects=1, clips_per_subject=1, photos=(str(blank),)))
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- the label lives in motion

def test_label_is_in_motion_not_appearance(tmp_path):
    """Fast version: 6 subjects x 9 clips. Appearance near chance, motion clearly above."""
    root = generate_dataset(tmp_path / "proof", SynthConfig(subjects=6, clips_per_subject=9, seed=1))
    scores = appearance_vs_motion(root)
    assert scores["appearance"] <= 0.45, scores
    assert scores["flow"] >= scores["appearance"] + 0.3, scores
    assert scores["difference"] >= scores["appearance"] + 0.15, scores


def test_label_is_in_motion_on_the_default_dataset(tmp_path):
    """The default demo dataset (8 subjects x 12 clips, 64 px): about 3 s on 2 cores."""
    scores = appearance_vs_motion(generate_dataset(tmp_path / "default", SynthConfig()))
    assert scores["appearance"] <= 0.45, scores
    assert scores["flow"] >= 0.8 and scores["difference"] >= 0.5, scores
