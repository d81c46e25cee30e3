"""Emotion classes as combinations of action units, following FACS / CASME II conventions.

A micro-expression is a brief, partial, often one-sided flash of a full expression, so each
class is a *recipe*: one of several core AU sets, plus optional AUs, drawn anew for every clip.

3 classes (MEGC2019 order, label 0/1/2):

- ``negative`` (0): one of three families, chosen at random per clip:
  brow lowering AU4 (+AU7), disgust AU9 and/or AU10 (+AU4, +AU7),
  suppression AU14 / AU15 / AU17 / AU15+17 / AU14+17.
- ``positive`` (1): AU12, with AU6 in 60% of clips (the "Duchenne" smile).
- ``surprise`` (2): AU1+AU2 (60%), or AU1 or AU2 alone; AU25 (lips part) in 40% of clips.

5 classes (CASME II words, label 0..4): ``happiness`` (= positive), ``disgust`` (the disgust
family), ``repression`` (the suppression family), ``surprise`` (= surprise), ``others`` (the
brow-lowering family AU4 / AU4+7 / AU7). Mapped to 3 classes by :data:`THREE_CLASS_OF`:
happiness -> positive, surprise -> surprise, the rest -> negative (MEGC2019 drops CASME II's
"others"; SynthME's "others" is purely negative AUs, so it maps cleanly).

Per clip, every lateral AU is made one-sided together with probability ``unilateral_prob``
(side R or L at random, written ``R12`` as in CASME II), and each AU gets a relative intensity
in [0.6, 1]. The overall amplitude is set by the generator, independently of the class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mewb.synth.action_units import LATERAL_AUS

CLASSES: dict[int, tuple[str, ...]] = {
    3: ("negative", "positive", "surprise"),  # MEGC2019 order
    5: ("happiness", "disgust", "repression", "surprise", "others"),  # CASME II words
}
THREE_CLASS_OF: dict[str, str] = {
    "happiness": "positive",
    "disgust": "negative",
    "repression": "negative",
    "surprise": "surprise",
    "others": "negative",
    "negative": "negative",
    "positive": "positive",
}
BALANCE_PRESETS: dict[str, dict[int, tuple[float, ...]]] = {
    "uniform": {3: (1, 1, 1), 5: (1, 1, 1, 1, 1)},
    # MEGC2019 composite counts (negative, positive, surprise)
    "composite": {3: (250, 109, 83)},
    # CASME II 5-class counts (happiness, disgust, repression, surprise, others)
    "casme2": {5: (32, 63, 27, 25, 99)},
}

# Family -> list of (probability, core AUs); optional AUs with their probabilities.
_FAMILIES: dict[str, tuple[list[tuple[float, tuple[int, ...]]], dict[int, float]]] = {
    "smile": ([(1.0, (12,))], {6: 0.6}),
    "surprise": ([(0.6, (1, 2)), (0.2, (1,)), (0.2, (2,))], {25: 0.4}),
    "brow": ([(0.5, (4,)), (0.3, (4, 7)), (0.2, (7,))], {}),
    "disgust": ([(0.4, (9,)), (0.3, (10,)), (0.3, (9, 10))], {4: 0.3, 7: 0.3}),
    "suppression": ([(0.2, (14,)), (0.25, (15,)), (0.2, (17,)), (0.2, (15, 17)), (0.15, (14, 17))], {}),
}
_RECIPES: dict[str, tuple[str, ...]] = {
    "negative": ("brow", "disgust", "suppression"),
    "positive": ("smile",),
    "surprise": ("surprise",),
    "happiness": ("smile",),
    "disgust": ("disgust",),
    "repression": ("suppression",),
    "others": ("brow",),
}


@dataclass(frozen=True)
class Expression:
    """One drawn expression: ``aus`` maps AU number -> (side "B"/"R"/"L", relative intensity)."""

    emotion: str
    aus: dict[int, tuple[str, float]]

    @property
    def code(self) -> str:
        """CASME II style AU string: AUs in numeric order joined by ``+``, a one-sided AU prefixed
        with its side, e.g. ``6+12``, ``R12``, ``1+2+25``, ``R4+R7+R10``."""
        parts = []
        for au in sorted(self.aus):
            side = self.aus[au][0]
            parts.append(f"{'' if side == 'B' else side}{au}")
        return "+".join(parts)


def draw_expression(emotion: str, rng: np.random.Generator, unilateral_prob: float = 0.2, *,
                    extra_au_prob: float = 0.0) -> Expression:
    """Draw the AUs of one clip of ``emotion`` (a word from :data:`CLASSES`).

    With probability ``extra_au_prob`` one AU of another class's families is mixed in at a low
    intensity (0.3-0.6): real clips are AU mixtures, and a lone AU does not give the class away.
    At 0 no extra random number is drawn, so datasets made before this option are unchanged.
    """
    try:
        families = _RECIPES[emotion]
    except KeyError:
        raise ValueError(f"unknown emotion {emotion!r}; valid: {', '.join(sorted(_RECIPES))}") from None
    family = families[int(rng.integers(len(families)))]
    cores, optional = _FAMILIES[family]
    probs = np.array([p for p, _ in cores])
    core = cores[int(rng.choice(len(cores), p=probs / probs.sum()))][1]
    chosen = list(core) + [au for au, p in optional.items() if rng.uniform() < p]
    side = "B"
    if rng.uniform() < unilateral_prob:
        side = "R" if rng.uniform() < 0.5 else "L"
    aus = {au: (side if au in LATERAL_AUS else "B", float(rng.uniform(0.6, 1.0))) for au in sorted(chosen)}
    if extra_au_prob > 0 and rng.uniform() < extra_au_prob:
        others = sorted({a for name, (fam_cores, fam_optional) in _FAMILIES.items() if name not in families
                         for a in [*(a for _, core_aus in fam_cores for a in core_aus), *fam_optional]} - set(aus))
        extra = others[int(rng.integers(len(others)))]
        aus[extra] = (side if extra in LATERAL_AUS else "B", float(rng.uniform(0.3, 0.6)))
        aus = dict(sorted(aus.items()))
    return Expression(emotion, aus)
