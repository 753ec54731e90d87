"""Metrics of deepfake detection scores: error rates, curves, AUC intervals.

Error-rate convention (used everywhere in this package): :data:`CONVENTION`.
Labels are 1 = fake, 0 = real (``"fake"``/``"real"`` strings are accepted, see
:func:`as_binary`).

In confusion-matrix terms (fake = positive): FAR = FN / n_fake,
FRR = FP / n_real, recall = 1 - FAR.

Functions returning numbers give ``nan`` when a rate is undefined (e.g. FAR
without fakes); functions returning dicts give JSON-ready values
(plain Python types, ``None`` instead of ``nan``/``inf``).  Summaries of whole
tables (per method, per compression) are in :mod:`detector.evaluation`.

About 460 lines: every metric of the package is a plain function here, so that all of
them share the one convention and input checks above.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.metrics import det_curve, roc_curve

from .datasets import normalize_label

#: The error-rate convention (the one definition): plain text whose last three lines are a
#: Markdown list, for the Evaluation page, the case report and every stored metrics.json.
CONVENTION = (
    "Scores: higher = more likely fake; fake is the positive class. At threshold t a video is "
    "rejected as fake when score >= t and accepted as genuine when score < t.\n"
    "- FAR (false acceptance rate) = share of fake videos accepted as genuine = ISO/IEC 30107-3 APCER, "
    "reported per manipulation method;\n"
    "- FRR (false rejection rate) = share of genuine videos rejected as fake = ISO/IEC 30107-3 BPCER;\n"
    "- HTER = (FAR + FRR) / 2; EER = the rate where FAR = FRR."
)

__all__ = [
    "CONVENTION",
    "as_binary",
    "labels_and_scores",
    "far_frr",
    "error_rates_curve",
    "eer",
    "det_curve_points",
    "roc_points",
    "tpr_at_fpr",
    "bootstrap_auc_ci",
    "metrics_at_threshold",
    "threshold_for_target",
    "cllr",
    "cllr_min",
    "ece_curve",
]


# --------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------


def as_binary(y: Iterable[Any]) -> np.ndarray:
    """Convert labels to a 1-D int array with 1 = fake, 0 = real.

    Accepts 0/1 (ints, floats, bools) and label strings understood by
    :func:`detector.datasets.normalize_label` (``real``/``fake``, ...).
    """
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {arr.shape}")
    if arr.dtype.kind in "biuf":
        bad = ~np.isin(arr, (0, 1))
        if bad.any():
            raise ValueError(f"numeric labels must be 0 (real) or 1 (fake); got {arr[bad][:5]}")
        return arr.astype(int)
    names = [normalize_label(v) for v in arr]
    bad_values = [v for v, n in zip(arr, names) if n is None]
    if bad_values:
        raise ValueError(f"unknown label(s) {sorted({str(v) for v in bad_values})[:5]}")
    return np.array([n == "fake" for n in names], dtype=int)


def labels_and_scores(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """Checked ``(labels, scores)``: 1-D labels as :func:`as_binary`, finite float scores of
    the same non-zero length (ValueError otherwise)."""
    y = as_binary(y_true)
    s = np.asarray(scores, dtype=float)
    if s.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {s.shape}")
    if len(s) != len(y):
        raise ValueError(f"got {len(y)} labels but {len(s)} scores")
    if len(s) == 0:
        raise ValueError("no samples")
    if not np.isfinite(s).all():
        raise ValueError(f"scores must be finite; {int((~np.isfinite(s)).sum())} are not")
    return y, s


def _require_both(y: np.ndarray, what: str) -> None:
    n_fake = int(y.sum())
    if n_fake == 0 or n_fake == len(y):
        raise ValueError(
            f"{what} needs both real and fake samples; got n_real={len(y) - n_fake}, "
            f"n_fake={n_fake}"
        )


# --------------------------------------------------------------------------
# Error rates and curves
# --------------------------------------------------------------------------


def far_frr(y_true: Any, scores: Any, threshold: float) -> tuple[float, float]:
    """FAR (fakes accepted, ``score < t``) and FRR (reals rejected, ``score >= t``).

    Returns
    -------
    (far, frr) : tuple of float
        ``nan`` for a rate whose class is absent.
    """
    y, s = labels_and_scores(y_true, scores)
    fake, real = s[y == 1], s[y == 0]
    far = float(np.mean(fake < threshold)) if len(fake) else math.nan
    frr = float(np.mean(real >= threshold)) if len(real) else math.nan
    return far, frr


def error_rates_curve(y_true: Any, scores: Any) -> pd.DataFrame:
    """FAR and FRR at every distinct score used as threshold.

    Returns
    -------
    pandas.DataFrame
        Columns ``threshold, far, frr``, thresholds ascending: ``-inf``
        (everything rejected: FAR 0, FRR 1), each unique score, ``+inf``
        (everything accepted: FAR 1, FRR 0). FAR is non-decreasing and FRR
        non-increasing down the rows.
    """
    y, s = labels_and_scores(y_true, scores)
    _require_both(y, "error_rates_curve")
    fake, real = np.sort(s[y == 1]), np.sort(s[y == 0])
    thr = np.concatenate([[-np.inf], np.unique(s), [np.inf]])
    far = np.searchsorted(fake, thr, side="left") / len(fake)
    frr = (len(real) - np.searchsorted(real, thr, side="left")) / len(real)
    return pd.DataFrame({"threshold": thr, "far": far, "frr": frr})


def eer(y_true: Any, scores: Any) -> tuple[float, float]:
    """Equal error rate and its threshold.

    Among the thresholds of :func:`error_rates_curve` (the distinct scores),
    take the one minimising ``|FAR - FRR|`` (the lowest such threshold on
    ties) and return ``(FAR + FRR) / 2`` there. If FAR and FRR meet exactly
    at a threshold this is their common value; otherwise it is the mean at
    the closest point (no interpolation between thresholds).

    Returns
    -------
    (eer, threshold) : tuple of float
    """
    curve = error_rates_curve(y_true, scores)
    curve = curve[np.isfinite(curve["threshold"])]
    far, frr = curve["far"].to_numpy(), curve["frr"].to_numpy()
    i = int(np.argmin(np.abs(far - frr)))
    return float((far[i] + frr[i]) / 2), float(curve["threshold"].iloc[i])


def det_curve_points(y_true: Any, scores: Any) -> pd.DataFrame:
    """Points of the DET curve (FRR against FAR).

    Uses :func:`sklearn.metrics.det_curve` with fake as positive class, whose
    ``fpr`` (reals with ``score >= t``) is FRR and whose ``fnr`` (fakes with
    ``score < t``) is FAR. sklearn keeps only the thresholds between the
    first point with FAR = 0 and the last with FRR = 0.

    Returns
    -------
    pandas.DataFrame
        Columns ``far, frr, threshold``, thresholds ascending.
    """
    y, s = labels_and_scores(y_true, scores)
    _require_both(y, "det_curve_points")
    fpr, fnr, thr = det_curve(y, s, pos_label=1)
    df = pd.DataFrame({"far": fnr, "frr": fpr, "threshold": thr})
    return df.sort_values("threshold", kind="stable").reset_index(drop=True)


def roc_points(y_true: Any, scores: Any) -> pd.DataFrame:
    """ROC curve with fake as positive: ``fpr`` = FRR, ``tpr`` = 1 - FAR.

    Returns
    -------
    pandas.DataFrame
        Columns ``fpr, tpr, threshold`` as given by
        :func:`sklearn.metrics.roc_curve` (first threshold is ``inf``).
    """
    y, s = labels_and_scores(y_true, scores)
    _require_both(y, "roc_points")
    fpr, tpr, thr = roc_curve(y, s, pos_label=1)
    return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": thr})


def tpr_at_fpr(y_true: Any, scores: Any, fpr: float) -> float:
    """Share of fakes flagged (TPR = 1 - FAR) at the lowest threshold that flags at most
    ``fpr`` of the genuine videos (FRR <= ``fpr``), read off the ROC curve's steps.

    >>> tpr_at_fpr([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.0)
    0.5
    """
    if not 0 <= fpr <= 1:
        raise ValueError(f"fpr must be in [0, 1], got {fpr}")
    roc = roc_points(y_true, scores)
    return float(roc.loc[roc["fpr"] <= fpr + 1e-12, "tpr"].max())


def _fast_auc(y: np.ndarray, s: np.ndarray) -> float:
    """AUC via the Mann-Whitney U statistic (ties count 1/2)."""
    ranks = rankdata(s)
    n_fake = int(y.sum())
    n_real = len(y) - n_fake
    return float((ranks[y == 1].sum() - n_fake * (n_fake + 1) / 2) / (n_fake * n_real))


def bootstrap_auc_ci(
    y_true: Any,
    scores: Any,
    groups: Any = None,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the ROC AUC.

    Parameters
    ----------
    y_true, scores : array-like
        Labels (1 = fake) and scores (higher = more fake).
    groups : array-like, optional
        Cluster ids; if given, whole groups are resampled (cluster
        bootstrap), which respects correlated videos (same source/identity).
    n_boot : int, default 1000
        Number of resamples; resamples with a single class are skipped.
    alpha : float, default 0.05
        The interval covers ``1 - alpha``.
    seed : int, default 0
        Seed of the numpy random generator.

    Returns
    -------
    (low, high) : tuple of float
        ``(nan, nan)`` if no resample contained both classes.
    """
    y, s = labels_and_scores(y_true, scores)
    _require_both(y, "bootstrap_auc_ci")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    rng = np.random.default_rng(seed)
    members = None if groups is None else _group_members(groups, y)
    aucs = []
    for _ in range(n_boot):
        if members is None:
            idx = rng.integers(0, len(y), len(y))
        else:
            picks = rng.integers(0, len(members), len(members))
            idx = np.concatenate([members[k] for k in picks])
        yb = y[idx]
        n_fake = yb.sum()
        if n_fake == 0 or n_fake == len(yb):
            continue
        aucs.append(_fast_auc(yb, s[idx]))
    if not aucs:
        return math.nan, math.nan
    low, high = np.quantile(aucs, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _group_members(groups: Any, y: np.ndarray) -> list[np.ndarray]:
    """The row indices of each group (``groups``: one id per label of ``y``)."""
    g = np.asarray(groups)
    if g.shape != y.shape:
        raise ValueError(f"got {len(y)} labels but groups of shape {g.shape}")
    _, codes = np.unique(g.astype(str), return_inverse=True)
    order = np.argsort(codes, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)


# --------------------------------------------------------------------------
# Operating point
# --------------------------------------------------------------------------


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den else None


def metrics_at_threshold(y_true: Any, scores: Any, threshold: float) -> dict:
    """Operating-point metrics at ``threshold`` (reject as fake if ``score >= t``).

    Returns
    -------
    dict
        ``threshold, far, frr, hter, apcer (= far), bpcer (= frr), precision,
        recall, f1, accuracy, confusion {tn, fp, fn, tp}`` (fake = positive),
        ``n_real, n_fake``. Undefined values are ``None``.
    """
    y, s = labels_and_scores(y_true, scores)
    rejected = s >= threshold
    tp = int(np.sum(rejected & (y == 1)))
    fn = int(np.sum(~rejected & (y == 1)))
    fp = int(np.sum(rejected & (y == 0)))
    tn = int(np.sum(~rejected & (y == 0)))
    n_fake, n_real = tp + fn, tn + fp
    far, frr = _ratio(fn, n_fake), _ratio(fp, n_real)
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, n_fake)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    return {
        "threshold": float(threshold),
        "far": far,
        "frr": frr,
        "hter": (far + frr) / 2 if far is not None and frr is not None else None,
        "apcer": far,
        "bpcer": frr,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": _ratio(tp + tn, len(y)),
        "confusion": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
        "n_real": n_real,
        "n_fake": n_fake,
    }


def threshold_for_target(y_true: Any, scores: Any, frr: float | None = None, far: float | None = None) -> float:
    """The score threshold of a chosen error-rate target, from labelled (out-of-fold) scores.

    Give exactly one target:

    - ``frr``: flag at most this share of the genuine videos (FRR <= ``frr``; a platform
      scanning millions of videos). Returns the *lowest* threshold meeting it, so the most
      fakes are flagged;
    - ``far``: miss at most this share of the fakes (FAR <= ``far``; an investigator).
      Returns the *highest* threshold meeting it, so the fewest genuine videos are flagged.

    The candidates are the distinct scores (a video is flagged when ``score >= t``) and,
    for ``frr``, the next float above the highest score (flags nothing, so ``frr = 0`` is
    always reachable with a finite threshold). Rates are those of the given scores; on new
    videos they hold only as far as these scores represent them.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Labels, 1 / ``"fake"`` = fake, 0 / ``"real"`` = genuine; both classes needed.
    scores : array-like of shape (n,)
        Finite decision scores, higher = more likely fake.
    frr, far : float in [0, 1], optional
        The target (a fraction, 0.01 = 1 %); exactly one must be given.

    Returns
    -------
    float
        The threshold.

    >>> threshold_for_target([0, 0, 0, 0, 1, 1, 1, 1], [.1, .2, .3, .9, .25, .5, .6, .8], frr=0.25)
    0.5
    """
    if (frr is None) == (far is None):
        raise ValueError("give exactly one target: frr (share of genuine videos flagged) or far (share of fakes missed)")
    given = frr if far is None else far
    try:
        target = float(given)
    except (TypeError, ValueError):
        target = math.nan
    if not 0 <= target <= 1:
        raise ValueError(f"the target rate must be a fraction in [0, 1], got {given!r}")
    y, s = labels_and_scores(y_true, scores)
    _require_both(y, "threshold_for_target")
    candidates = np.append(np.unique(s), np.nextafter(s.max(), np.inf))
    fake, real = np.sort(s[y == 1]), np.sort(s[y == 0])
    if frr is not None:
        rates = (len(real) - np.searchsorted(real, candidates, side="left")) / len(real)
        return float(candidates[rates <= target + 1e-12].min())
    rates = np.searchsorted(fake, candidates, side="left") / len(fake)
    return float(candidates[rates <= target + 1e-12].max())


# --------------------------------------------------------------------------
# Likelihood ratios (log10 LRs of detector.calibration)
# --------------------------------------------------------------------------


def _llr_data(y_true: Any, llrs: Any):
    """lir's LLRData of the finite log10 LRs and their labels (1 = fake)."""
    # lir (pydantic; lir.metrics below: its isotonic calibrator, about a second in all) is
    # imported only when LRs are evaluated, never by `import detector`
    from lir.data.models import LLRData

    y, s = labels_and_scores(y_true, llrs)
    return LLRData(features=s, labels=y)


def cllr(y_true: Any, llrs: Any) -> float:
    """Log-likelihood-ratio cost C_llr of log10 LRs (lir's ``lir.metrics.cllr``).

    0 for perfect, well-calibrated LRs; 1 for a system that always says LR = 1; above 1
    for LRs that mislead.  Labels 1 = fake (the LR's numerator proposition)."""
    from lir.metrics import cllr as lir_cllr  # lir: only when LRs are evaluated (see _llr_data)

    return float(lir_cllr(_llr_data(y_true, llrs)))


def cllr_min(y_true: Any, llrs: Any) -> float:
    """C_llr after the best monotone recalibration (lir's ``lir.metrics.cllr_min``, PAV):
    the discrimination part of :func:`cllr`; ``cllr - cllr_min`` is the calibration loss."""
    from lir.metrics import cllr_min as lir_cllr_min  # lir: only when LRs are evaluated (see _llr_data)

    return float(lir_cllr_min(_llr_data(y_true, llrs)))


#: Prior log10 odds (fake vs genuine) of an ECE plot: -3 to +3 in steps of 0.05 (0 included).
ECE_PRIOR_LOG10_ODDS = np.round(np.linspace(-3.0, 3.0, 121), 10)


def ece_curve(y_true: Any, llrs: Any, prior_log10_odds: Any = ECE_PRIOR_LOG10_ODDS) -> pd.DataFrame:
    """Empirical cross-entropy (ECE) of log10 LRs over prior odds, by lir
    (``lir.plotting.expected_calibration_error.calculate_ece``, the values lir's ECE plot draws).

    Parameters
    ----------
    y_true : array-like, shape (n,)
        1 = fake (the LR's numerator proposition), 0 = real; both must occur.
    llrs : array-like, shape (n,)
        Finite log10 likelihood ratios.
    prior_log10_odds : array-like, shape (m,)
        Prior log10 odds of fake vs genuine at which the cross-entropy is computed.

    Returns
    -------
    pandas.DataFrame
        One row per prior: ``prior_log10_odds``; ``ece`` (bits) of the LRs; ``ece_pav``
        of the same LRs after lir's PAV recalibration (``IsotonicCalibrator``: the
        least cross-entropy any monotone recalibration reaches, the discrimination
        part); ``ece_reference`` of a system that always says LR = 1.  At even prior
        odds (0) ``ece`` is :func:`cllr` and ``ece_pav`` :func:`cllr_min`; a curve
        above the reference means LRs that mislead at that prior.
    """
    # lir's ECE module imports matplotlib.pyplot (for its plot): only when an ECE is computed
    from lir.algorithms.isotonic_regression import IsotonicCalibrator
    from lir.plotting.expected_calibration_error import calculate_ece

    y, s = labels_and_scores(y_true, llrs)
    _require_both(y, "ece_curve")
    x = np.asarray(prior_log10_odds, dtype=float).ravel()
    priors = 1.0 / (1.0 + 10.0 ** -x)
    with np.errstate(divide="ignore", over="ignore"):
        pav = IsotonicCalibrator().fit_transform(s.copy(), y)
        return pd.DataFrame({"prior_log10_odds": x, "ece": calculate_ece(10.0 ** s, y, priors),
                             "ece_pav": calculate_ece(10.0 ** pav, y, priors),
                             "ece_reference": calculate_ece(np.ones_like(s), y, priors)})
