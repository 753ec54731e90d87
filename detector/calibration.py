"""Calibrated likelihood ratios: from the SVM's decision score to the strength of evidence.

The SVM's decision score ranks videos; it is not a statement a court can weigh.  A
:class:`Calibration` turns it into a likelihood ratio

    LR = p(score | the face was manipulated) / p(score | the video is genuine)

as the forensic literature reports evidence, in log10 units (``llr``: 0 is no
evidence either way, +1 an LR of 10 for manipulation, -1 an LR of 10 for a genuine
video).  It is fitted by the Netherlands Forensic Institute's ``lir`` package
(:func:`fit_calibration`): lir's logistic-regression calibrator (``LogitCalibrator``,
class-balanced, so the fitted log-odds are a log LR at even prior odds), then bounded by
lir's empirical lower and upper bounds (ELUB, Vergeer et al., Science & Justice 56
(2016) 482-491, ``ELUBBounder``): the LR a system trained on ~125 videos states never
exceeds what that many scores can support.

The fitted calibrator is affine in the score, so a :class:`Calibration` is plain numbers
(intercept, slope, the two bounds and the counts it was fitted on): it is stored in the
model file as such (no callable type needs trusting) and evaluated on load with lir's
``StaticBounder`` applying the same bounds.  :mod:`detector.crossval` fits it on
cross-validated scores of the training data only (inside every outer fold too).

:func:`verbal_scale` puts an LR in the words of the ENFSI guideline; :func:`verdict_of`
gives ``inconclusive`` when the LR lies between 1/3 and 3.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: |log10 LR| below this (an LR between 1/3 and 3) is too weak to call either way: the
#: verdict is ``inconclusive``.
LLR_INCONCLUSIVE = math.log10(3.0)
#: The calibration method and the bounds of :func:`fit_calibration` (stored with the model).
METHOD = "logistic"
BOUNDS = "elub"
#: The propositions the LR compares, as the verbal scale names the side it supports.
FAKE_SIDE, REAL_SIDE = "manipulation", "a genuine video"
#: ENFSI verbal scale: (lowest |log10 LR| of the band, words), strongest first.
_ENFSI_BANDS = ((6.0, "extremely strong"), (4.0, "very strong"), (3.0, "strong"), (2.0, "moderately strong"),
                (1.0, "moderate"), (0.0, "weak or limited"))


@dataclass(frozen=True)
class Calibration:
    """A fitted score-to-LR calibration: ``llr = intercept + slope * score``, bounded to
    [``llr_lower``, ``llr_upper``] (log10 units), fitted on ``n_fake`` + ``n_real`` scores.

    Part of the fields that change a model's output: stored in ``model.skops`` and
    repeated in ``card.json`` (see :class:`detector.model.BoundFields`).
    """

    intercept: float
    slope: float
    llr_lower: float
    llr_upper: float
    n_fake: int
    n_real: int
    method: str = METHOD
    bounds: str = BOUNDS

    def llr(self, scores: Any) -> np.ndarray:
        """log10 LR of decision scores (array-like, any shape), bounded; NaN stays NaN.

        The bounds are applied by lir's ``StaticBounder`` (the transform lir's
        ``ELUBBounder`` applies once fitted)."""
        # lir imports pydantic: loaded when a calibrated model first scores, not by `import detector`
        from lir.bounding import StaticBounder
        from lir.data.models import LLRData

        s = np.asarray(scores, dtype=float)
        raw = self.intercept + self.slope * s.ravel()
        out = np.full(raw.shape, np.nan)
        ok = np.isfinite(raw)
        if ok.any():
            bounded = StaticBounder(self.llr_lower, self.llr_upper).transform(LLRData(features=raw[ok]))
            out[ok] = bounded.llrs
        return out.reshape(s.shape)

    @property
    def n_scores(self) -> int:
        return self.n_fake + self.n_real

    def to_dict(self) -> dict:
        """Plain JSON / skops-safe numbers and text."""
        return asdict(self)

    @classmethod
    def from_mapping(cls, d: object) -> "Calibration":
        """A checked calibration from a card's or a model file's dict; ValueError naming the problem."""
        if not isinstance(d, dict):
            raise ValueError(f"'calibration' must be an object, got {type(d).__name__}")
        names = {f: d.get(f) for f in cls.__dataclass_fields__}
        extra = sorted(set(d) - set(names))
        if extra:
            raise ValueError(f"'calibration' has unknown fields {extra}")
        if names["method"] != METHOD or names["bounds"] != BOUNDS:
            raise ValueError(f"'calibration' must be method {METHOD!r} with bounds {BOUNDS!r}, "
                             f"got {names['method']!r} / {names['bounds']!r}")
        for f in ("intercept", "slope", "llr_lower", "llr_upper"):
            v = names[f]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"'calibration.{f}' must be a finite number, got {v!r}")
        for f in ("n_fake", "n_real"):
            v = names[f]
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"'calibration.{f}' must be a positive count, got {v!r}")
        if not names["llr_lower"] <= 0.0 <= names["llr_upper"]:
            raise ValueError("'calibration' bounds must satisfy llr_lower <= 0 <= llr_upper")
        return cls(float(names["intercept"]), float(names["slope"]), float(names["llr_lower"]),
                   float(names["llr_upper"]), int(names["n_fake"]), int(names["n_real"]))


def fit_calibration(scores: Any, labels: Any) -> Calibration:
    """Fit a :class:`Calibration` with lir on scores whose labels are known.

    Parameters
    ----------
    scores : array-like, shape (n,)
        Decision scores (higher = more likely fake), cross-validated: scores of videos
        the scoring model was not trained on.  Non-finite scores are left out.
    labels : array-like, shape (n,)
        1 = fake (manipulated), 0 = real.

    Returns
    -------
    Calibration
        lir's ``LogitCalibrator`` (its log10 LR is affine in the score: read off as
        intercept and slope) bounded by lir's ``ELUBBounder`` fitted on the calibrated
        training scores.

    Raises
    ------
    ValueError
        When a class has no finite score.
    """
    # lir's ELUB module imports matplotlib.pyplot (for its plots): only when a calibrator is fitted
    from lir.algorithms.bayeserror import ELUBBounder
    from lir.algorithms.logistic_regression import LogitCalibrator
    from lir.data.models import LLRData

    s = np.asarray(scores, dtype=float).ravel()
    y = np.asarray(labels).astype(int).ravel()
    if s.shape != y.shape:
        raise ValueError(f"scores ({s.shape}) and labels ({y.shape}) differ in length")
    ok = np.isfinite(s)
    s, y = s[ok], y[ok]
    n_fake, n_real = int((y == 1).sum()), int((y == 0).sum())
    if n_fake == 0 or n_real == 0 or n_fake + n_real != len(y):
        raise ValueError(f"a calibration needs fake (1) and real (0) scores, got {n_fake} fake and {n_real} real")
    cal = LogitCalibrator().fit(s, y)
    llrs = cal.transform(s)
    intercept = float(cal.transform(np.zeros(1))[0])
    slope = float(cal.transform(np.ones(1))[0]) - intercept
    if not np.allclose(intercept + slope * s, llrs, rtol=1e-9, atol=1e-9):
        raise RuntimeError("lir's LogitCalibrator is no longer affine in the score: the stored form does not fit it")
    bounder = ELUBBounder().fit(LLRData(features=llrs.copy(), labels=y))  # elub() overwrites its input
    return Calibration(intercept, slope, float(bounder.lower_llr_bound), float(bounder.upper_llr_bound),
                       n_fake, n_real)


def verbal_scale(llr: float | None) -> str | None:
    """The strength of evidence of a log10 LR in words, on the ENFSI verbal scale.

    ENFSI Guideline for Evaluative Reporting in Forensic Science (European Network of
    Forensic Science Institutes, 2015), verbal equivalents of the likelihood ratio: an LR
    of 1 supports neither proposition; 2-10 weak (or limited) support, 10-100 moderate,
    100-1000 moderately strong, 1000-10 000 strong, 10 000-1 000 000 very strong, above
    1 000 000 extremely strong support for the first proposition rather than the
    alternative; an LR below 1 supports the alternative in the same bands of 1/LR.
    Here the first proposition is manipulation (:data:`FAKE_SIDE`), the alternative a
    genuine video (:data:`REAL_SIDE`); a band includes its lower limit.

    Returns None for a missing or non-finite LR.
    """
    if llr is None or not math.isfinite(llr):
        return None
    if llr == 0:
        return "no support for either proposition"
    side = FAKE_SIDE if llr > 0 else REAL_SIDE
    words = next(w for lo, w in _ENFSI_BANDS if abs(llr) >= lo)
    return f"{words} support for {side}"


def lr_text(llr: float) -> str:
    """``LR 12 (log10 1.08)`` / ``LR 1/12 (log10 -1.08)``: an LR as people read it."""
    lr = 10.0 ** abs(llr)
    # three significant figures below 10: an LR of 2.95 must not read "3", the edge of "inconclusive"
    num = f"{lr:.3g}" if lr < 9.995 else f"{lr:,.0f}"
    return f"LR {num if llr >= 0 else '1/' + num} (log10 {llr:.2f})"


def evidence_text(llr: float | None) -> str | None:
    """``LR 12 (log10 1.08), moderate support for manipulation``; None without an LR."""
    words = verbal_scale(llr)
    return None if words is None else f"{lr_text(llr)}, {words}"


def verdict_of(score: float, threshold: float, llr: float | None = None) -> str:
    """The verdict of one decision score.

    Without an LR (an uncalibrated model): ``fake`` when ``score >= threshold``, else
    ``real``.  With one: ``inconclusive`` when |``llr``| < :data:`LLR_INCONCLUSIVE` (an LR
    between 1/3 and 3), else the side the LR supports (``fake`` for an LR above 3,
    ``real`` below 1/3), so a verdict never contradicts the evidence stated beside it.
    The threshold verdict (:func:`threshold_verdict`) is kept beside it.
    """
    if llr is None or not math.isfinite(llr):
        return threshold_verdict(score, threshold)
    if abs(llr) < LLR_INCONCLUSIVE:
        return "inconclusive"
    return "fake" if llr > 0 else "real"


def threshold_verdict(score: float, threshold: float) -> str:
    """``fake`` when ``score >= threshold``, else ``real`` (the verdict at the EER threshold)."""
    return "fake" if score >= threshold else "real"


def verdicts(scores: Any, thresholds: Any, llrs: Any | None = None) -> np.ndarray:
    """:func:`verdict_of` of arrays (``no-face`` where the score is missing)."""
    s = np.asarray(scores, dtype=float)
    t = np.broadcast_to(np.asarray(thresholds, dtype=float), s.shape)
    lr = np.full(s.shape, np.nan) if llrs is None else np.asarray(llrs, dtype=float)
    return np.array([verdict_of(a, b, c) if np.isfinite(a) else "no-face" for a, b, c in zip(s, t, lr)],
                    dtype=object)
