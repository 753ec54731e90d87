"""Evaluation metrics for deepfake detection scores.

Error-rate convention (used everywhere in this package): :data:`CONVENTION`.
Labels are 1 = fake, 0 = real (``"fake"``/``"real"`` strings are accepted, see
:func:`as_binary`).

In confusion-matrix terms (fake = positive): FAR = FN / n_fake,
FRR = FP / n_real, recall = 1 - FAR.

Functions returning numbers give ``nan`` when a rate is undefined (e.g. FAR
without fakes); functions returning dicts give JSON-ready values
(plain Python types, ``None`` instead of ``nan``/``inf``).
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.metrics import det_curve, roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedGroupKFold

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
    "as_binary",
    "far_frr",
    "error_rates_curve",
    "eer",
    "det_curve_points",
    "roc_points",
    "bootstrap_auc_ci",
    "metrics_at_threshold",
    "summarize",
    "evaluate_table",
    "grouped_folds",
    "to_jsonable",
    "cllr",
    "cllr_min",
    "llr_summary",
    "with_cllr",
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


def _inputs(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
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
    y, s = _inputs(y_true, scores)
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
    y, s = _inputs(y_true, scores)
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
    y, s = _inputs(y_true, scores)
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
    y, s = _inputs(y_true, scores)
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
    y, s = _inputs(y_true, scores)
    _require_both(y, "bootstrap_auc_ci")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    rng = np.random.default_rng(seed)
    if groups is None:
        members = None
    else:
        g = np.asarray(groups)
        if g.shape != y.shape:
            raise ValueError(f"got {len(y)} labels but groups of shape {g.shape}")
        _, codes = np.unique(g.astype(str), return_inverse=True)
        order = np.argsort(codes, kind="stable")
        members = np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)
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


# --------------------------------------------------------------------------
# Reports
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
    y, s = _inputs(y_true, scores)
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


def summarize(
    y_true: Any,
    scores: Any,
    threshold: float | None = None,
    groups: Any = None,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict:
    """Summary of a score set: AUC with CI, EER, and metrics at a threshold.

    Parameters
    ----------
    y_true, scores : array-like
        Labels (1 = fake) and scores (higher = more fake).
    threshold : float, optional
        Operating threshold; defaults to the EER threshold of this data
        (optimistic: choose it on validation data for a fair test report).
    groups : array-like, optional
        Groups for the cluster bootstrap of the AUC CI.
    n_boot : int, default 1000
        Bootstrap resamples; 0 skips the CI.
    alpha, seed
        See :func:`bootstrap_auc_ci`.

    Returns
    -------
    dict
        ``n, n_real, n_fake, auc, auc_ci [low, high], eer, eer_threshold,
        threshold, threshold_source ("given"|"eer"|None), metrics`` (see
        :func:`metrics_at_threshold`), JSON-ready. With one class only,
        AUC/EER fields are ``None``, ``metrics`` is computed only for a given
        threshold, and ``note`` explains why.
    """
    y, s = _inputs(y_true, scores)
    n_fake = int(y.sum())
    out: dict[str, Any] = {
        "n": len(y),
        "n_real": len(y) - n_fake,
        "n_fake": n_fake,
        "auc": None,
        "auc_ci": None,
        "eer": None,
        "eer_threshold": None,
    }
    if 0 < n_fake < len(y):
        out["auc"] = float(roc_auc_score(y, s))
        if n_boot > 0:
            out["auc_ci"] = list(bootstrap_auc_ci(y, s, groups, n_boot, alpha, seed))
        out["eer"], out["eer_threshold"] = eer(y, s)
    else:
        out["note"] = (
            f"only one class present (n_real={out['n_real']}, n_fake={n_fake}): "
            "AUC and EER are undefined"
        )
    if threshold is not None:
        out["threshold"], out["threshold_source"] = float(threshold), "given"
    elif out["eer_threshold"] is not None:
        out["threshold"], out["threshold_source"] = out["eer_threshold"], "eer"
    else:
        out["threshold"], out["threshold_source"] = None, None
    out["metrics"] = (
        metrics_at_threshold(y, s, out["threshold"]) if out["threshold"] is not None else None
    )
    return to_jsonable(out)


def evaluate_table(
    df: pd.DataFrame,
    threshold: float | None,
    score_col: str = "score",
    label_col: str = "label",
    by: Sequence[str] = ("method", "compression"),
    group_col: str | None = "group",
    method_col: str = "method",
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """Overall and per-subset evaluation of a table of scored videos.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per video with at least ``score_col`` and ``label_col``.
        Rows with a missing score are dropped (counted in
        ``n_missing_score``).
    threshold : float or None
        Operating threshold used for every subset; ``None`` uses the overall
        EER threshold.
    score_col, label_col : str
        Column names.
    by : sequence of str
        Columns to break results down by.
    group_col : str or None
        Column of leakage groups for the cluster bootstrap; ``None`` for
        plain bootstrap.
    method_col : str, default "method"
        The ``by`` column holding manipulation methods. For each method with
        fakes, that method's fakes are evaluated against *all* real videos
        (so ``far`` = the method's APCER, ``auc`` = method vs real). A method
        with only real videos (e.g. ``original-youtube``) is evaluated on its
        real videos alone (``frr`` = its BPCER). Any other ``by`` column is
        split plainly (e.g. per compression: reals and fakes at that level).
    n_boot, seed
        Bootstrap settings, see :func:`summarize`.

    Returns
    -------
    dict
        ``{"threshold", "n_missing_score", "overall": summary,
        "apcer_by_method": {method: apcer}, "max_apcer",
        "by": {column: {value: summary}}}``, JSON-ready.
    """
    needed = [score_col, label_col, *by] + ([group_col] if group_col else [])
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"table lacks column(s) {missing}; has {list(df.columns)}")
    scores = pd.to_numeric(df[score_col], errors="coerce")
    ok = np.isfinite(scores.to_numpy(dtype=float))
    data = df.loc[ok].reset_index(drop=True)
    if data.empty:
        raise ValueError("no rows with a finite score")
    y = as_binary(data[label_col].to_numpy())
    s = scores[ok].to_numpy(dtype=float)
    g = data[group_col].astype(str).to_numpy() if group_col else None

    def summary(mask: np.ndarray, t: float | None) -> dict:
        return summarize(y[mask], s[mask], t, None if g is None else g[mask], n_boot, seed=seed)

    overall = summary(np.ones(len(y), dtype=bool), threshold)
    t = overall["threshold"]
    result: dict[str, Any] = {
        "threshold": t,
        "n_missing_score": int((~ok).sum()),
        "overall": overall,
        "apcer_by_method": {},
        "max_apcer": None,
        "by": {},
    }
    for col in by:
        values = data[col].astype(str).to_numpy()
        result["by"][col] = {}
        for value in sorted(set(values)):
            mask = values == value
            if col == method_col and (y[mask] == 1).any():
                mask = (mask & (y == 1)) | (y == 0)
                rep = summary(mask, t)
                if rep["metrics"] is not None:
                    result["apcer_by_method"][value] = rep["metrics"]["apcer"]
            else:
                rep = summary(mask, t)
            result["by"][col][value] = rep
    apcers = [v for v in result["apcer_by_method"].values() if v is not None]
    result["max_apcer"] = max(apcers) if apcers else None
    return to_jsonable(result)


# --------------------------------------------------------------------------
# Cross-validation and serialisation
# --------------------------------------------------------------------------


def grouped_folds(
    groups: Any, y: Any, n_splits: int = 5, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds that never split a group.

    Uses :class:`sklearn.model_selection.StratifiedGroupKFold` with
    ``shuffle=True, random_state=seed``.

    Returns
    -------
    list of (train_idx, test_idx)
        Integer index arrays; each group lies entirely on one side.
    """
    g = np.asarray(groups)
    labels = as_binary(y)
    if g.ndim != 1 or len(g) != len(labels):
        raise ValueError(f"groups (shape {g.shape}) and y ({len(labels)}) must be 1-D of equal length")
    if n_splits < 2:
        raise ValueError(f"n_splits must be >= 2, got {n_splits}")
    n_groups = len(np.unique(g.astype(str)))
    if n_groups < n_splits:
        raise ValueError(
            f"cannot make {n_splits} group folds from only {n_groups} distinct group(s)"
        )
    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in cv.split(np.zeros(len(labels)), labels, g.astype(str))]


def to_jsonable(obj: Any) -> Any:
    """Recursively convert numpy/pandas values to plain JSON-ready Python.

    numpy scalars become ``int``/``float``/``bool``, arrays and tuples
    become lists, DataFrames lists of row dicts, dict keys strings, and
    ``nan``/``inf``/``pd.NA`` become ``None``.
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, pd.DataFrame):
        return to_jsonable(obj.to_dict(orient="records"))
    if isinstance(obj, (pd.Series, np.ndarray, list, tuple, set)):
        return [to_jsonable(v) for v in (obj.tolist() if hasattr(obj, "tolist") else obj)]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if obj is None or obj is pd.NA or obj is pd.NaT:
        return None
    return obj


# --------------------------------------------------------------------------
# Likelihood ratios (log10 LRs of detector.calibration)
# --------------------------------------------------------------------------


def _llr_data(y_true: Any, llrs: Any):
    """lir's LLRData of the finite log10 LRs and their labels (1 = fake)."""
    # lir (pydantic; lir.metrics below: its isotonic calibrator, about a second in all) is
    # imported only when LRs are evaluated, never by `import detector`
    from lir.data.models import LLRData

    y, s = _inputs(y_true, llrs)
    return LLRData(features=s, labels=y)


def cllr(y_true: Any, llrs: Any) -> float:
    """Log-likelihood-ratio cost C_llr of log10 LRs (lir's ``lir.metrics.cllr``).

    0 for perfect, well-calibrated LRs; 1 for a system that always says LR = 1; above 1
    for LRs that mislead.  Labels 1 = fake (the LR's numerator proposition)."""
    from lir.metrics import cllr as lir_cllr

    return float(lir_cllr(_llr_data(y_true, llrs)))


def cllr_min(y_true: Any, llrs: Any) -> float:
    """C_llr after the best monotone recalibration (lir's ``lir.metrics.cllr_min``, PAV):
    the discrimination part of :func:`cllr`; ``cllr - cllr_min`` is the calibration loss."""
    from lir.metrics import cllr_min as lir_cllr_min

    return float(lir_cllr_min(_llr_data(y_true, llrs)))


def llr_summary(y_true: Any, llrs: Any) -> dict:
    """``{"cllr", "cllr_min", "n_llr", "llr_min", "llr_max"}`` of finite log10 LRs (JSON-ready;
    the C_llr values are None when a class is missing)."""
    y, s = _inputs(y_true, llrs)
    both = 0 < int(y.sum()) < len(y)
    return to_jsonable({"cllr": cllr(y, s) if both else None, "cllr_min": cllr_min(y, s) if both else None,
                        "n_llr": len(s), "llr_min": float(s.min()) if len(s) else None,
                        "llr_max": float(s.max()) if len(s) else None})


def with_cllr(report: dict, df: pd.DataFrame, llr_col: str = "llr", label_col: str = "label") -> dict:
    """An :func:`evaluate_table` result with :func:`llr_summary` of ``df``'s finite LRs added
    to its ``overall`` summary (unchanged when ``df`` has no LRs)."""
    if llr_col not in df.columns:
        return report
    llrs = pd.to_numeric(df[llr_col], errors="coerce")
    ok = np.isfinite(llrs.to_numpy(dtype=float))
    if not ok.any():
        return report
    summary = llr_summary(df.loc[ok, label_col].to_numpy(), llrs[ok].to_numpy(dtype=float))
    return {**report, "overall": {**report["overall"], **summary}}
