"""Emotion vocabularies per dataset and the MEGC2019 three-class map.

Each reader labels a sample with the index of its emotion word in that dataset's vocabulary
(``VOCABULARIES``). Words are matched case-insensitively (SAMM writes ``Anger``, CASME II
``repression``); an unknown word raises :class:`UnknownEmotionError` naming the known words and the
closest match.

The MEGC2019 composite (Composite Database Evaluation, See et al., "MEGC 2019 - the second facial
micro-expressions grand challenge", FG 2019) merges the classes into negative (0), positive (1)
and surprise (2); ``MEGC2019_3CLASS`` gives the per-dataset map and every other word is dropped.
"""

from __future__ import annotations

import difflib

from mewb.data.common import DatasetError

MEGC3_CLASSES: tuple[str, ...] = ("negative", "positive", "surprise")

VOCABULARIES: dict[str, tuple[str, ...]] = {
    # CASME II coding sheet, "Estimated Emotion" column.
    "casme2": ("happiness", "surprise", "disgust", "repression", "fear", "sadness", "others"),
    # SAMM_Micro_FACS_Codes_v2, "Estimated Emotion" column.
    "samm": ("anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise", "other"),
    # SMIC: the label is the folder name under micro/.
    "smic": MEGC3_CLASSES,
    # The composite and precomputed flow images use the MEGC2019 classes.
    "composite": MEGC3_CLASSES,
    "flowimages": MEGC3_CLASSES,
    # SynthME's default; a generator manifest may declare another vocabulary.
    "synth": MEGC3_CLASSES,
}

MEGC2019_3CLASS: dict[str, dict[str, str]] = {
    "casme2": {
        "disgust": "negative",
        "repression": "negative",
        "happiness": "positive",
        "surprise": "surprise",
    },
    "samm": {
        "anger": "negative",
        "contempt": "negative",
        "disgust": "negative",
        "fear": "negative",
        "sadness": "negative",
        "happiness": "positive",
        "surprise": "surprise",
    },
    "smic": {"negative": "negative", "positive": "positive", "surprise": "surprise"},
}


class UnknownEmotionError(DatasetError):
    """An emotion word that is not in the dataset's vocabulary."""


def _normalise(word: object) -> str:
    return str(word).strip().lower()


def vocabulary(dataset: str) -> tuple[str, ...]:
    """The class names of ``dataset`` in label order."""
    try:
        return VOCABULARIES[dataset]
    except KeyError:
        valid = ", ".join(sorted(VOCABULARIES))
        raise ValueError(f"no emotion vocabulary for dataset {dataset!r}; valid: {valid}") from None


def label_index(word: object, classes: tuple[str, ...] | str, *, where: str = "") -> int:
    """The index of ``word`` in ``classes`` (a tuple, or a dataset name), case-insensitively."""
    if isinstance(classes, str):
        classes = vocabulary(classes)
    normal = [_normalise(c) for c in classes]
    key = _normalise(word)
    if key in normal:
        return normal.index(key)
    close = difflib.get_close_matches(key, normal, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    prefix = f"{where}: " if where else ""
    raise UnknownEmotionError(
        f"{prefix}unknown emotion {str(word)!r}; known: {', '.join(classes)}{hint}"
    )


def megc3_label(dataset: str, word: object) -> int | None:
    """The MEGC2019 class index (0 negative, 1 positive, 2 surprise) or ``None`` if dropped."""
    try:
        mapping = MEGC2019_3CLASS[dataset]
    except KeyError:
        valid = ", ".join(sorted(MEGC2019_3CLASS))
        raise ValueError(f"no MEGC2019 map for dataset {dataset!r}; valid: {valid}") from None
    target = mapping.get(_normalise(word))
    return None if target is None else MEGC3_CLASSES.index(target)
