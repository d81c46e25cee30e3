"""Frame folders, video files, natural order, temporal sampling and load_clip."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from fixtures.mer_layouts import write_frames

from mewb.data.common import DatasetError
from mewb.data.frames import (
    frame_number,
    list_frames,
    load_clip,
    natural_key,
    numbered_frames,
    read_video,
    sample_interpolate,
    sample_uniform,
)
from mewb.data.sample import Sample


def test_natural_order_and_frame_numbers(tmp_path):
    names = ["img10.jpg", "img2.jpg", "img1.jpg", "img100.jpg", "notes.txt", ".img3.jpg"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_frames(tmp_path)] == ["img1.jpg", "img2.jpg", "img10.jpg", "img100.jpg"]
    assert sorted(["s10", "s9", "s1"], key=natural_key) == ["s1", "s9", "s10"]
    assert [frame_number(n) for n in ("img46.jpg", "reg_img46.jpg", "006_05562.jpg", "reg_image046869.bmp")] == [
        46, 46, 5562, 46869]
    with pytest.raises(DatasetError, match="no frame number"):
        frame_number("cover.jpg")


def test_numbered_frames_rejects_clashes_and_empty_folders(tmp_path):
    write_frames(tmp_path / "a", ["img7.png", "img007.png"])
    with pytest.raises(DatasetError, match="share frame number 7"):
        numbered_frames(tmp_path / "a")
    (tmp_path / "b").mkdir()
    with pytest.raises(DatasetError, match="no image frames"):
        numbered_frames(tmp_path / "b")
    with pytest.raises(DatasetError, match="frame folder not found"):
        numbered_frames(tmp_path / "c")


def test_uniform_and_interpolated_sampling():
    clip = np.arange(5, dtype=np.float32)[:, None] * 10  # (5, 1) values 0..40
    assert sample_uniform(clip, 3)[:, 0].tolist() == [0, 20, 40]
    assert sample_uniform(clip, 7).shape == (7, 1)  # longer than the clip: frames repeat
    assert sample_interpolate(clip, 9)[:, 0].tolist() == [0, 5, 10, 15, 20, 25, 30, 35, 40]
    grey = np.array([[0], [255]], dtype=np.uint8)
    assert sample_interpolate(grey, 3)[:, 0].tolist() == [0, 128, 255]


@pytest.fixture
def clip_sample(tmp_path):
    """Frames 10..29 (PNG, grey level 5 * number), annotated onset 12, apex 20, offset 27."""
    numbers = list(range(10, 30))
    write_frames(tmp_path / "clip", [f"img{n}.png" for n in numbers], values=[5 * n for n in numbers])
    paths, nums = numbered_frames(tmp_path / "clip")
    return Sample(dataset="casme2", subject="sub01", clip="EP01_01", label=0, emotion="happiness", onset=12,
                  apex=20, offset=27, frames=paths, frame_numbers=nums, fps=200.0, extra={"cropped": True})


def _levels(clip):
    return (clip[:, 0, 0, 0].astype(int) // 5).tolist()  # back to frame numbers


def test_load_clip_sampling_modes(clip_sample):
    uniform = load_clip(clip_sample, frames=4, size=(8, 6), sampling="uniform")
    assert uniform.shape == (4, 8, 6, 3) and uniform.dtype == np.uint8
    assert _levels(uniform) == [12, 17, 22, 27]  # onset..offset, ends included
    interpolated = load_clip(clip_sample, frames=3, size=(8, 8), sampling="interpolate")
    assert interpolated[:, 0, 0, 0].tolist() == [60, 98, 135]  # 12, 19.5, 27 (x5, rounded)
    window = load_clip(clip_sample, frames=5, size=(8, 8), sampling="apex_window")
    assert _levels(window) == [18, 19, 20, 21, 22]
    edge = load_clip(clip_sample, frames=30, size=(8, 8), sampling="apex_window")
    assert _levels(edge)[0] == 10 and _levels(edge)[-1] == 29  # clamped to the folder
    pair = load_clip(clip_sample, frames=2, size=(8, 8), sampling="onset_apex")
    assert _levels(pair) == [12, 20]
    with pytest.raises(ValueError, match="exactly 2 frames"):
        load_clip(clip_sample, frames=4, sampling="onset_apex")
    with pytest.raises(ValueError, match="valid: uniform, interpolate, apex_window, onset_apex"):
        load_clip(clip_sample, frames=4, sampling="random")


def test_load_clip_colour(tmp_path):
    image = np.zeros((8, 8, 3), np.uint8)
    image[..., 0] = 200  # red in RGB
    cv2.imwrite(str(tmp_path / "img1.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    sample = Sample(dataset="x", subject="s", clip="c", label=0, emotion="e", frames=(tmp_path / "img1.png",),
                    extra={"cropped": True})
    rgb = load_clip(sample, frames=1, size=(8, 8), colour="rgb")
    grey = load_clip(sample, frames=1, size=(8, 8), colour="grey")
    assert tuple(rgb[0, 0, 0]) == (200, 0, 0)
    assert grey[0, 0, 0, 0] == grey[0, 0, 0, 1] == grey[0, 0, 0, 2] == round(0.299 * 200)


def test_unreadable_frame_and_missing_annotated_frame(clip_sample):
    bad = clip_sample.frames[5]
    bad.write_bytes(b"not a png")
    with pytest.raises(DatasetError, match=f"{bad.name}: unreadable image"):
        load_clip(clip_sample, frames=16, size=(8, 8), sampling="uniform")
    from dataclasses import replace

    with pytest.raises(DatasetError, match="offset frame 99 is not among the clip's frames"):
        load_clip(replace(clip_sample, offset=99), frames=4, size=(8, 8))


def test_video_files(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (16, 16))
    assert writer.isOpened()
    for k in range(10):
        writer.write(np.full((16, 16, 3), 20 * k, np.uint8))
    writer.release()
    video = read_video(path)
    assert video.shape == (10, 16, 16, 3)
    assert np.abs(video[:, 8, 8, 0].astype(int) - 20 * np.arange(10)).max() <= 3
    assert np.array_equal(read_video(path, [7, 2]), video[[7, 2]])
    sample = Sample(dataset="x", subject="s", clip="c", label=0, emotion="e", onset=2, apex=5, offset=8,
                    frames=(path,), extra={"cropped": True})
    clip = load_clip(sample, frames=2, size=(8, 8), sampling="onset_apex")
    assert np.abs(clip[:, 4, 4, 0].astype(int) - np.array([40, 100])).max() <= 3
    with pytest.raises(DatasetError, match="past the end of the video"):
        read_video(path, [12])
    with pytest.raises(DatasetError, match="video file not found"):
        read_video(tmp_path / "none.avi")
