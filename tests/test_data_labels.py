"""Emotion vocabularies, the MEGC2019 map, and MEGC subject/clip ids."""

from __future__ import annotations

import pytest

from mewb.data.common import DatasetError, canonical_clip, canonical_subject, clip_match_key, frame_cell
from mewb.data.labels import MEGC2019_3CLASS, UnknownEmotionError, label_index, megc3_label, vocabulary


def test_words_match_case_insensitively():
    assert label_index("Anger", "samm") == 0 and label_index(" repression ", "casme2") == 3
    assert label_index("surprise", ("negative", "positive", "surprise")) == 2


def test_unknown_word_names_the_place_and_the_nearest_word():
    with pytest.raises(UnknownEmotionError, match=r"sheet row 9: unknown emotion 'Supprise'.*did you mean 'surprise'"):
        label_index("Supprise", "casme2", where="sheet row 9")
    with pytest.raises(DatasetError, match="known: negative, positive, surprise$"):
        label_index("zzz", "smic")
    with pytest.raises(ValueError, match="valid: casme2, composite"):
        vocabulary("casme3")


def test_megc2019_three_class_map():
    negatives = {"casme2": ["disgust", "repression"], "samm": ["Anger", "Contempt", "Disgust", "Fear", "Sadness"],
                 "smic": ["negative"]}
    for dataset, words in negatives.items():
        assert [megc3_label(dataset, w) for w in words] == [0] * len(words)
        assert megc3_label(dataset, "surprise") == 2
    assert megc3_label("casme2", "happiness") == megc3_label("samm", "Happiness") == megc3_label("smic", "positive") == 1
    for dropped in (("casme2", "others"), ("casme2", "fear"), ("casme2", "sadness"), ("samm", "Other")):
        assert megc3_label(*dropped) is None
    assert set(MEGC2019_3CLASS) == {"casme2", "samm", "smic"}


@pytest.mark.parametrize("dataset, raw, expected", [
    ("casme2", 1, "sub01"), ("casme2", "sub01", "sub01"), ("casme2", 17.0, "sub17"), ("samm", 6, "006"),
    ("samm", "006", "006"), ("smic", "s1", "s01"), ("smic", "s01", "s01"), ("other", "P7", "P7"),
])
def test_subject_ids(dataset, raw, expected):
    assert canonical_subject(dataset, raw) == expected


def test_clip_ids_and_frame_cells():
    assert canonical_clip("smic", "s1_ne_01") == "s01_ne_01"
    assert clip_match_key("casme2", "EP03_02") == clip_match_key("casme2", "EP03_02f")
    assert clip_match_key("samm", "006_1_2") == "006_1_2"
    assert [frame_cell(v, where="w", column="c") for v in (46, 46.0, "46", "/", "", None, float("nan"), -1)] == [
        46, 46, 46, None, None, None, None, None]
    with pytest.raises(DatasetError, match="w: c 46.5 is not a whole frame number"):
        frame_cell(46.5, where="w", column="c")
