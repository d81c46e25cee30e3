"""What mewb promises a careless or hostile user (issue #17), one test per promise.

Nothing a user made is lost:
  - ``mewb predict`` never writes into, over, or around its input or the run it reads;
  - ``--overwrite`` only replaces a folder mewb itself wrote.

Nothing stale or foreign is trusted:
  - an edited annotation sheet gives new cache entries, and ``--resume`` refuses the edited data;
  - a cache entry copied over another clip's entry is detected and rebuilt;
  - a damaged checkpoint is an error naming the file; a fold cut short is retrained;
  - a frame missing inside onset..offset is an error (strict) or a listed skip (``mewb info``);
  - an undecodable frame fails the run before its folder is written;
  - two processes never train into one run directory at once.

No traceback, one line naming the file: a file where a folder is needed, broken YAML, a broken
ground truth, Ctrl-C (which prints the ``--resume`` command), nonsense option values.
And files mewb writes are readable by the user's group as their umask says.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mewb import cli
from mewb.atomic import atomic_write
from mewb.data.cache import PreprocessCache
from mewb.data.common import DatasetError
from mewb.data.readers import read_dataset
from mewb.rundir import RunLockedError, run_lock
from mewb.synth import SynthConfig, generate_dataset

QUICK = ["--variant", "flow_only", "--recipe", "quick", "--set", "train.epochs=1", "--executor", "inprocess",
         "--no-progress"]


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    """A read-only tiny SynthME (3 subjects x 2 clips, 32 px); tests copy it before changing it."""
    return generate_dataset(tmp_path_factory.mktemp("hostile") / "synth",
                            SynthConfig(subjects=3, clips_per_subject=2, size=32, seed=5, workers=1))


@pytest.fixture
def data(synth, tmp_path) -> Path:
    """A private copy of the tiny SynthME, free to damage."""
    return Path(shutil.copytree(synth, tmp_path / "data"))


def mewb(*argv) -> int:
    return cli.main([str(a) for a in argv])


def one_line_error(capsys, *needles: str) -> str:
    """The command's stderr: one ``error:`` line containing every needle, and no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def set_apex(root: Path, shift: int) -> None:
    """Move every ApexFrame of a SynthME sheet by ``shift`` frames (still inside onset..offset)."""
    sheet = root / "CASME2-coding-synthme.xlsx"
    table = pd.read_excel(sheet, engine="openpyxl")
    table["ApexFrame"] = np.clip(table["ApexFrame"] + shift, table["OnsetFrame"], table["OffsetFrame"])
    table.to_excel(sheet, index=False, engine="openpyxl")


# --------------------------------------------------------------------------------------------------
# Nothing a user made is lost


@pytest.mark.parametrize("where", ["the input itself", "a folder holding the input", "inside the input",
                                   "the run folder"])
def test_predict_never_writes_into_or_over_its_input_or_run(data, tmp_path, capsys, where):
    clip = data / "sub01" / "EP01_01"
    run = tmp_path / "runs" / "r"
    run.mkdir(parents=True)
    out = {"the input itself": clip, "a folder holding the input": data / "sub01",
           "inside the input": clip / "result", "the run folder": run}[where]
    before = sorted(p.name for p in clip.iterdir())
    assert mewb("predict", clip, "--run", run, "--fps", 200, "--out", out, "--overwrite") == 2
    one_line_error(capsys, str(out), "outside")
    assert sorted(p.name for p in clip.iterdir()) == before  # every frame still there, nothing added


def test_overwrite_only_replaces_a_folder_mewb_predict_wrote(data, tmp_path, capsys):
    notes = tmp_path / "my-notes"
    notes.mkdir()
    (notes / "thesis.tex").write_text("months of work")
    assert mewb("predict", data / "sub01" / "EP01_01", "--run", tmp_path / "run", "--fps", 200,
                "--out", notes, "--overwrite") == 2
    one_line_error(capsys, str(notes), "not a folder mewb predict wrote")
    assert (notes / "thesis.tex").read_text() == "months of work"


# --------------------------------------------------------------------------------------------------
# Nothing stale or foreign is trusted


def test_an_edited_annotation_sheet_is_seen_by_the_cache_and_refused_by_resume(data, tmp_path, capsys):
    out, cache = tmp_path / "run", tmp_path / "cache"
    args = ["loso", "--dataset", "synth", "--data-root", data, "--out", out, "--folds", "sub01",
            "--cache-dir", cache, *QUICK]
    assert mewb(*args) == 0
    entries = PreprocessCache(cache).info()["entries"]
    set_apex(data, -3)
    assert mewb(*args, "--resume") == 2
    one_line_error(capsys, str(out), "annotation sheet")
    assert PreprocessCache(cache).info()["entries"] == entries  # refused before any preprocessing
    # a new run on the edited sheet makes new entries: the old arrays are never served for it
    assert mewb(*[str(tmp_path / "run2") if a == out else a for a in args]) == 0
    assert PreprocessCache(cache).info()["entries"] == 2 * entries


def test_a_cache_entry_copied_over_another_clips_entry_is_rebuilt(tmp_path):
    cache = PreprocessCache(tmp_path / "cache")
    first, second = "a" * 64, "b" * 64
    cache.put(first, {"flow": np.zeros((2, 3), np.float32)})
    cache.put(second, {"flow": np.ones((2, 3), np.float32)})
    shutil.copyfile(cache.path(second), cache.path(first))  # valid bytes, wrong clip
    assert cache.get(first) is None and not cache.path(first).exists()
    rebuilt = cache.get_or_build(first, lambda: {"flow": np.full((2, 3), 7, np.float32)})
    assert (rebuilt["flow"] == 7).all()


def test_a_damaged_checkpoint_is_an_error_naming_it(tmp_path):
    from tests.fixtures.runs import write_fake_run

    run = write_fake_run(tmp_path / "run", variant="flow_only", folds=("synth/sub01",))
    path = run.fold_dir("synth/sub01") / "checkpoint.pt"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one flipped byte inside the weights
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=f"{path}: checksum mismatch"):
        run.load_model("synth/sub01")


def test_a_fold_whose_predictions_were_damaged_is_retrained_and_the_log_says_why(data, tmp_path):
    out = tmp_path / "run"
    args = ["loso", "--dataset", "synth", "--data-root", data, "--out", out, "--folds", "sub01",
            "--cache-dir", tmp_path / "cache", *QUICK]
    assert mewb(*args) == 0
    fold = out / "folds" / "synth" / "sub01" / "predictions.csv"
    fold.write_text(fold.read_text().splitlines()[0] + "\n")  # cut to its header
    assert mewb(*args, "--resume") == 0
    assert "synth/sub01: retraining" in (out / "log.txt").read_text()
    assert len(pd.read_csv(out / "predictions.csv")) == 2  # both test clips again


def test_a_frame_missing_inside_the_span_is_an_error_strict_and_a_listed_skip_lenient(data, capsys):
    sample = next(s for s in read_dataset("synth", data)[0] if s.key == "synth/sub02/EP01_01")
    after_onset = sample.frame_numbers.index(sample.onset) + 1  # neither onset, apex nor offset
    gap = sample.frame_numbers[after_onset]
    assert gap not in (sample.apex, sample.offset)
    sample.frames[after_onset].unlink()
    with pytest.raises(DatasetError, match=rf"row \d+ \(sub02/EP01_01\): frame {gap} missing from .*"
                                           "between onset"):
        read_dataset("synth", data)
    samples, report = read_dataset("synth", data, strict=False)
    assert "synth/sub02/EP01_01" not in {s.key for s in samples} and len(samples) == 5
    assert mewb("info", "--dataset", "synth", "--data-root", data) == 0
    assert f"frame {gap} missing" in capsys.readouterr().out


def test_a_frame_missing_outside_the_span_is_a_note_not_a_skip(data):
    sample = next(s for s in read_dataset("synth", data)[0] if s.key == "synth/sub01/EP01_01")
    outside = sample.frame_numbers[-2]
    assert outside > sample.offset
    sample.frames[-2].unlink()
    samples, report = read_dataset("synth", data)
    assert len(samples) == 6 and any(f"frame {outside} missing" in note for note in report.notes)


def test_an_undecodable_frame_fails_before_the_run_folder_is_written(data, tmp_path, capsys):
    sample = next(s for s in read_dataset("synth", data)[0] if s.key == "synth/sub03/EP02_01")
    onset = sample.frames[sample.frame_numbers.index(sample.onset)]
    onset.write_bytes(np.random.default_rng(0).bytes(300))
    out = tmp_path / "run"
    assert mewb("loso", "--dataset", "synth", "--data-root", data, "--out", out,
                "--cache-dir", tmp_path / "cache", *QUICK) == 2
    one_line_error(capsys, str(onset), "unreadable image")
    assert not out.exists()


def test_two_processes_never_train_one_run_at_once(data, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["loso", "--dataset", "synth", "--data-root", data, "--out", out, "--folds", "sub01",
            "--cache-dir", tmp_path / "cache", *QUICK]
    assert mewb(*args) == 0
    log = (out / "log.txt").read_text()
    with run_lock(out):  # another process is training it
        assert mewb(*args, "--resume") == 2
        one_line_error(capsys, str(out), "another mewb process is training this run")
        with pytest.raises(RunLockedError):
            with run_lock(out):
                pass
    assert (out / "log.txt").read_text() == log  # the refused command wrote nothing
    assert mewb(*args, "--resume") == 0  # the lock is released with its holder


# --------------------------------------------------------------------------------------------------
# One line naming the file, no traceback


def test_a_file_where_a_folder_is_needed(data, tmp_path, capsys):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    base = ["loso", "--dataset", "synth", "--data-root", data, *QUICK]
    assert mewb(*base, "--out", a_file) == 2
    one_line_error(capsys, str(a_file), "not a directory")
    assert mewb(*base, "--out", tmp_path / "run", "--cache-dir", a_file) == 2
    one_line_error(capsys, str(a_file), "not a directory")
    assert not (tmp_path / "run").exists() and a_file.read_text() == "mine"


def test_broken_yaml_in_a_recipe_or_a_runs_config(data, tmp_path, capsys):
    from tests.fixtures.runs import write_fake_run

    recipe = tmp_path / "bad.yaml"
    recipe.write_text("train: [unclosed\n")
    assert mewb("loso", "--dataset", "synth", "--data-root", data, "--out", tmp_path / "r", "--recipe", recipe) == 2
    one_line_error(capsys, str(recipe), "not valid YAML")
    run = write_fake_run(tmp_path / "run", variant="flow_only", folds=("synth/sub01",))
    (run.path / "config.yaml").write_text("schema: 1\nvariant: [\n")
    for argv in (["loso", "--out", run.path, "--resume"], ["explain", "--run", run.path],
                 ["train", "--all-subjects", "--run-config", run.path / "config.yaml", "--out", tmp_path / "final"]):
        assert mewb(*argv) == 2, argv
        one_line_error(capsys, str(run.path / "config.yaml"), "not valid YAML")


def test_a_broken_ground_truth_file_is_named(data, tmp_path):
    from mewb.explain.localisation import read_ground_truth

    path = data / "ground_truth" / "sub01" / "EP01_01.npz"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match=f"{path}: unreadable ground truth"):
        read_ground_truth(path)


def test_ctrl_c_prints_the_command_that_continues_the_run(monkeypatch, tmp_path, capsys):
    from mewb.commands import train as train_command

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_command, "loso_command", interrupted)
    argv = ["loso", "--dataset", "synth", "--data-root", str(tmp_path), "--out", str(tmp_path / "run")]
    assert cli.main(argv) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and "interrupted" in err
    assert f"mewb loso --dataset synth --data-root {tmp_path} --out {tmp_path / 'run'} --resume" in err


@pytest.mark.parametrize("fps", ["0", "-5", "nan"])
def test_a_frame_rate_must_be_positive(data, tmp_path, capsys, fps):
    assert mewb("predict", data / "sub01" / "EP01_01", "--run", tmp_path / "run", f"--fps={fps}") == 2
    one_line_error(capsys, "--fps must be a positive number")


def test_nonsense_options_are_refused_before_anything_is_created(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert mewb("loso", "--dataset", "synth", "--data-root", data, "--out", out, *QUICK, "--flow-backend", "farnbeck") == 2
    one_line_error(capsys, "unknown flow backend 'farnbeck'")
    assert mewb("report", "--variants", ",", "--out", tmp_path / "report") == 2
    one_line_error(capsys, "names no variant")
    assert not out.exists() and not (tmp_path / "report").exists()


def test_an_empty_folder_read_as_synth_speaks_of_synthme(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert mewb("info", "--dataset", "synth", "--data-root", tmp_path / "empty") == 2
    line = one_line_error(capsys, "no SynthME clips found")
    assert "CASME" not in line.split("expected")[0]


def test_sheet_rows_are_named_by_the_sheets_path(data):
    sheet = data / "CASME2-coding-synthme.xlsx"
    table = pd.read_excel(sheet, engine="openpyxl")
    table.loc[0, "Estimated Emotion"] = "bored"
    table.to_excel(sheet, index=False, engine="openpyxl")
    with pytest.warns(UserWarning):
        _, report = read_dataset("synth", data, strict=False)
    assert report.skipped and report.skipped[0].startswith(f"{sheet} row 2")


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_written_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = atomic_write(tmp_path / "metrics.json", "{}")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
