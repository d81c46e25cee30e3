"""``mewb predict``: a synthetic video through the whole command, every bad input, final models."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from fixtures.runs import write_fake_run

from mewb.cli import main
from mewb.data.preprocess import PreprocessConfig
from mewb.predict import NoModelError, load_run_model
from mewb.predict.demo import synthetic_recording
from mewb.train import Execution, TrainConfig

CLASSES = ["negative", "positive", "surprise"]  # as fixtures.runs.CLASSES
# small and fast, but every step of the training pipeline: alignment, sampling, flow, two streams
TINY = PreprocessConfig(clip_length=4, size=32, flow_backend="farneback")


def write_run(path: Path, *, folds=("synth/sub01", "synth/sub02"), protocol="loso", variant="dual",
              preprocess: PreprocessConfig = TINY) -> Path:
    """A run directory written through mewb.rundir, with untrained weights (fast)."""
    return write_fake_run(path, folds=folds, protocol=protocol, variant=variant, preprocess=preprocess).path


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    truth = synthetic_recording(root / "me.mp4", seed=0, emotion="positive")
    run = write_run(root / "runs" / "tiny")
    return root, truth, run


def run_cli(*args) -> int:
    return main(["predict", *map(str, args)])


def test_predict_spots_classifies_and_writes_everything(work, capsys):
    root, truth, run = work
    out = root / "result"
    assert run_cli(truth.path, "--run", run, "--out", out) == 0
    printed = capsys.readouterr().out
    assert "analysis 1" in printed and "average of the class probabilities of 2 LOSO fold models" in printed

    data = json.loads((out / "prediction.json").read_text())
    assert data["class_names"] == CLASSES and data["model_kind"] == "fold-average"
    assert "average" in data["model_source"] and data["interval_source"].startswith("spotted")
    assert data["fps"] == 200.0 and data["frames"] == 200
    best = data["intervals"][0]
    assert best["accepted"] and abs(best["apex"] - truth.apex) <= 4
    assert abs(best["onset"] - truth.onset) <= 6 and abs(best["offset"] - truth.offset) <= 6
    (analysis,) = data["analyses"]  # the strongest only, without --all
    assert sum(analysis["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert analysis["predicted"] in CLASSES and len(analysis["clip_frames"]) == TINY.clip_length
    assert len(data["spotting"]["signal"]) == 200

    gif = cv2.VideoCapture(str(out / "saliency-1.mp4"))
    assert gif.isOpened() and int(gif.get(cv2.CAP_PROP_FRAME_COUNT)) == TINY.clip_length
    assert (out / "saliency-1.gif").stat().st_size > 0
    page = (out / "report.html").read_text()
    from mewb.reports.html import check_offline_html

    check = check_offline_html(page)
    assert check.ok and check.plotlyjs_copies == 1 and check.figures == 3  # signal, probabilities, slider
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no temporary folder left behind


def test_a_given_interval_on_a_frame_folder_skips_spotting(work, tmp_path):
    _, truth, run = work
    folder = synthetic_recording(tmp_path / "frames", seed=0, frames=60, fps=100.0, folder=True).path
    out = tmp_path / "given"
    # frame folders are addressed by the numbers in their file names (img1.png = frame 1)
    assert run_cli(folder, "--run", run, "--out", out, "--fps", 100, "--onset", 10, "--apex", 15,
                   "--offset", 22, "--saliency", "none") == 0
    data = json.loads((out / "prediction.json").read_text())
    assert data["interval_source"] == "given on the command line" and "spotting" not in data
    assert (data["analyses"][0]["onset"], data["analyses"][0]["offset"]) == (10, 22)
    assert data["analyses"][0]["clip_frames"] == ["frame 10", "frame 14", "frame 18", "frame 22"]
    assert not list(out.glob("saliency-*"))


def test_default_output_sits_next_to_the_input_and_is_never_overwritten_silently(work, tmp_path, capsys):
    _, _, run = work
    folder = synthetic_recording(tmp_path / "clip", seed=1, frames=30, fps=100.0, folder=True).path
    args = [folder, "--run", run, "--fps", 100, "--onset", 5, "--offset", 20, "--saliency", "none"]
    assert run_cli(*args) == 0
    out = tmp_path / "clip-mewb"
    first = (out / "prediction.json").read_text()
    assert run_cli(*args) == 2
    assert "already exists" in capsys.readouterr().err and (out / "prediction.json").read_text() == first
    assert run_cli(*args, "--overwrite", "--onset", 6) == 0
    assert json.loads((out / "prediction.json").read_text())["analyses"][0]["onset"] == 6


def _expect_error(capsys, args, *needles) -> str:
    assert run_cli(*args) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("mewb predict: error:")]
    assert len(errors) == 1 and err.strip().endswith(errors[0]) and "Traceback" not in err, err
    for needle in needles:
        assert needle in errors[0], err
    return errors[0]


def _write_video(path: Path, frames: np.ndarray, fps: float = 30.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (frames.shape[2], frames.shape[1]))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def test_bad_inputs_are_one_clear_line_and_leave_no_result(work, tmp_path, capsys):
    _, truth, run = work
    out = tmp_path / "out"

    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video" * 10)
    _expect_error(capsys, [broken, "--run", run, "--out", out], str(broken), "unreadable video")

    missing = tmp_path / "nothing.mp4"
    _expect_error(capsys, [missing, "--run", run, "--out", out], str(missing), "no such video file")

    noise = np.random.default_rng(0).integers(0, 255, (20, 64, 64, 3), dtype=np.uint8)
    faceless = _write_video(tmp_path / "faceless.mp4", noise)
    _expect_error(capsys, [faceless, "--run", run, "--out", out], str(faceless), "no face found",
                  "frames 0, 3, 5, 8, 11, 14, 16, 19")

    short = _write_video(tmp_path / "short.mp4", noise[:3])
    _expect_error(capsys, [short, "--run", run, "--out", out], str(short), "3 frames",
                  "clip length of 4 frames")

    _expect_error(capsys, [truth.path, "--run", run, "--out", out, "--saliency", "bogus"],
                  "unknown attribution method 'bogus'", "gradcam")
    _expect_error(capsys, [truth.path, "--run", run, "--out", out, "--onset", 10], "--onset and --offset")
    _expect_error(capsys, [truth.path, "--run", run, "--out", out, "--onset", 10, "--offset", 5000],
                  "--offset 5000 is not a frame")
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_runs_without_a_usable_model_are_named(work, tmp_path, capsys):
    _, truth, _ = work
    out = tmp_path / "out"
    _expect_error(capsys, [truth.path, "--run", tmp_path / "no-run", "--out", out], "no-run")

    empty = tmp_path / "empty"
    empty.mkdir()
    _expect_error(capsys, [truth.path, "--run", empty, "--out", out], str(empty / "config.yaml"))

    unfinished = write_run(tmp_path / "unfinished", folds=())
    _expect_error(capsys, [truth.path, "--run", unfinished, "--out", out], "no usable model")

    corrupt = write_run(tmp_path / "corrupt", folds=("synth/sub01",))
    checkpoint = corrupt / "folds" / "synth" / "sub01" / "checkpoint.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    _expect_error(capsys, [truth.path, "--run", corrupt, "--out", out], str(checkpoint), "checksum mismatch")

    other = write_run(tmp_path / "other", folds=("synth/sub01",), variant="flow_only")
    (other / "config.yaml").write_text((other / "config.yaml").read_text().replace("flow_only", "dual"))
    _expect_error(capsys, [truth.path, "--run", other, "--out", out], "do not fit the run's model 'dual'")
    assert not out.exists()


def test_a_final_model_next_to_the_run_is_preferred_and_must_match(tmp_path):
    run = write_run(tmp_path / "x")
    assert load_run_model(run).kind == "fold-average"
    final = write_run(tmp_path / "x-final", folds=("all",), protocol="all-subjects")
    model = load_run_model(run)
    assert model.kind == "final" and model.checkpoints == [final / "folds" / "all" / "checkpoint.pt"]
    assert "final model (all subjects)" in model.source
    assert load_run_model(final).kind == "final"

    other = write_run(tmp_path / "y", preprocess=PreprocessConfig(clip_length=6, size=32))
    write_run(tmp_path / "y-final", folds=("all",), protocol="all-subjects")  # different preprocessing
    assert load_run_model(other).kind == "fold-average"
    with pytest.raises(NoModelError, match="no usable model"):
        load_run_model(write_run(tmp_path / "z-final", folds=(), protocol="all-subjects"))


@pytest.mark.slow
def test_train_a_tiny_run_its_final_model_and_predict(tmp_path, monkeypatch, capsys):
    """The real path: SynthME -> mewb.train LOSO (1 epoch) -> mewb train --all-subjects -> mewb predict."""
    from mewb.data.readers import class_names, read_dataset
    from mewb.synth import SynthConfig, generate_dataset
    from mewb.train import run_loso

    monkeypatch.setenv("MEWB_CACHE", str(tmp_path / "cache"))
    root = generate_dataset(tmp_path / "synth", SynthConfig(subjects=2, clips_per_subject=3, size=48, frames=44,
                                                            workers=1))
    samples, _ = read_dataset("synth", root)
    run = tmp_path / "runs" / "tiny"
    run_loso(samples, variant="dual", train_config=TrainConfig(epochs=1, batch_size=3, augment=False),
             preprocess_config=TINY, out=run, dataset_name="synth", data_root=root,
             class_names=class_names("synth", samples), execution=Execution(threads=2, progress=False))
    assert main(["train", "--all-subjects", "--run-config", str(run / "config.yaml"), "--out", f"{run}-final",
                 "--no-progress"]) == 0
    assert (tmp_path / "runs" / "tiny-final" / "folds" / "all" / "checkpoint.pt").is_file()
    video = synthetic_recording(tmp_path / "me.mp4", seed=0)
    assert run_cli(video.path, "--run", run, "--out", tmp_path / "out", "--all") == 0
    data = json.loads((tmp_path / "out" / "prediction.json").read_text())
    assert data["model_kind"] == "final" and data["class_names"] == CLASSES
    assert "final model" in capsys.readouterr().out


def test_a_held_expression_is_a_finding_with_its_page_not_an_error(work, tmp_path, capsys):
    """A broad expression held to the end (a macro-expression) is reported, exit 0: the page
    shows the motion curve, the threshold, each rejected candidate and the command to analyse a
    chosen interval; the JSON lists no interval."""
    import shutil

    _, _, run = work
    truth = synthetic_recording(tmp_path / "held", seed=1, frames=200, fps=200.0, folder=True, blink_prob=0.0)
    frames = sorted(truth.path.glob("img*.png"), key=lambda p: int(p.stem[3:]))
    for frame in frames[truth.apex + 1:]:  # the apex is held to the end: it never returns to neutral
        shutil.copyfile(frames[truth.apex], frame)
    out = tmp_path / "result"
    assert run_cli(truth.path, "--run", run, "--fps", 200, "--out", out) == 0
    printed = capsys.readouterr().out
    assert "no micro-expression interval spotted" in printed and "--onset" in printed
    data = json.loads((out / "prediction.json").read_text())
    assert data["intervals"] == [] and data["analyses"] == []
    assert data["finding"] == "no micro-expression interval spotted"
    assert data["analyse_chosen_interval"].startswith(f"mewb predict {truth.path} --run {run} --fps 200 --onset ")
    assert data["rejected"] and all(c["reason"] for c in data["rejected"])
    page = (out / "report.html").read_text()
    assert "No micro-expression interval spotted" in page and "threshold" in page
    assert all(c["reason"] in page for c in data["rejected"])


def test_faces_on_the_page_are_cut_from_the_recording_not_upscaled_from_the_model_input(tmp_path):
    import cv2

    from mewb.data.pipeline import ClipPipeline
    from mewb.data.preprocess import PreprocessConfig
    from mewb.data.readers import read_dataset
    from mewb.explain.volume import upscale_faces
    from mewb.predict.core import display_faces
    from mewb.synth import SynthConfig, generate_dataset

    root = generate_dataset(tmp_path / "s", SynthConfig(subjects=1, clips_per_subject=1, size=128, workers=1))
    sample = read_dataset("synth", root)[0][0]
    config = PreprocessConfig(clip_length=2, size=32, sampling="onset_apex", evm=True)
    shown = display_faces(sample, config)
    model_input = ClipPipeline(config, ("frames",), None).arrays(sample)["frames"]
    assert shown.shape == (2, 160, 160, 3) and model_input.shape[:3] == (2, 32, 32)

    def sharpness(faces):
        return float(np.mean([cv2.Laplacian(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var() for f in faces]))

    assert sharpness(shown) > 2 * sharpness(upscale_faces(model_input))
