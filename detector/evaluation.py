"""Evaluation of scored videos: summaries of a score set and of a whole table (overall,
per manipulation method, per compression), grouped folds, JSON-ready results.

The metrics themselves (FAR, FRR, EER, curves, AUC intervals, C_llr) and the error-rate
convention are in :mod:`detector.metrics`.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold

from .metrics import as_binary, bootstrap_auc_ci, cllr, cllr_min, eer, labels_and_scores, metrics_at_threshold

__all__ = [
    "summarize",
    "evaluate_table",
    "grouped_folds",
    "to_jsonable",
    "llr_summary",
    "with_cllr",
]


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
    y, s = labels_and_scores(y_true, scores)
    n_fake = int(y.sum())
    out: dict[str, Any] = {"n": len(y), "n_real": len(y) - n_fake, "n_fake": n_fake,
                           **_ranking(y, s, groups, n_boot, alpha, seed)}
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


def _ranking(y: np.ndarray, s: np.ndarray, groups: Any, n_boot: int, alpha: float, seed: int) -> dict:
    """``auc``, ``auc_ci`` (None when ``n_boot`` is 0), ``eer`` and ``eer_threshold`` of
    checked labels and scores; all None, and a ``note`` why, with one class only."""
    n_fake = int(y.sum())
    out: dict[str, Any] = {"auc": None, "auc_ci": None, "eer": None, "eer_threshold": None}
    if 0 < n_fake < len(y):
        out["auc"] = float(roc_auc_score(y, s))
        if n_boot > 0:
            out["auc_ci"] = list(bootstrap_auc_ci(y, s, groups, n_boot, alpha, seed))
        out["eer"], out["eer_threshold"] = eer(y, s)
    else:
        out["note"] = (
            f"only one class present (n_real={len(y) - n_fake}, n_fake={n_fake}): "
            "AUC and EER are undefined"
        )
    return out


def evaluate_table(df: pd.DataFrame, threshold: float | None, score_col: str = "score", label_col: str = "label",
                   by: Sequence[str] = ("method", "compression"), group_col: str | None = "group",
                   method_col: str = "method", n_boot: int = 1000, seed: int = 0) -> dict:
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
    data, n_missing, y, s = _scored_rows(df, score_col, label_col)
    g = data[group_col].astype(str).to_numpy() if group_col else None

    def summary(mask: np.ndarray, t: float | None) -> dict:
        return summarize(y[mask], s[mask], t, None if g is None else g[mask], n_boot, seed=seed)

    overall = summary(np.ones(len(y), dtype=bool), threshold)
    t = overall["threshold"]
    by_value, apcer = _breakdown(data, y, by, method_col, lambda mask: summary(mask, t))
    apcers = [v for v in apcer.values() if v is not None]
    return to_jsonable({"threshold": t, "n_missing_score": n_missing, "overall": overall,
                        "apcer_by_method": apcer, "max_apcer": max(apcers) if apcers else None, "by": by_value})


def _scored_rows(df: pd.DataFrame, score_col: str, label_col: str
                 ) -> tuple[pd.DataFrame, int, np.ndarray, np.ndarray]:
    """The rows of ``df`` with a finite score, how many have none, their labels (1 = fake)
    and scores."""
    scores = pd.to_numeric(df[score_col], errors="coerce")
    ok = np.isfinite(scores.to_numpy(dtype=float))
    data = df.loc[ok].reset_index(drop=True)
    if data.empty:
        raise ValueError("no rows with a finite score")
    return data, int((~ok).sum()), as_binary(data[label_col].to_numpy()), scores[ok].to_numpy(dtype=float)


def _breakdown(data: pd.DataFrame, y: np.ndarray, by: Sequence[str], method_col: str,
               summary: Callable[[np.ndarray], dict]) -> tuple[dict, dict]:
    """The ``summary`` of the rows of each value of each ``by`` column (a method's: its
    fakes and every real video), and each method's APCER."""
    out: dict[str, dict] = {}
    apcer: dict[str, float | None] = {}
    for col in by:
        values = data[col].astype(str).to_numpy()
        out[col] = {}
        for value in sorted(set(values)):
            mask = values == value
            if col == method_col and (y[mask] == 1).any():
                mask = (mask & (y == 1)) | (y == 0)
                rep = summary(mask)
                if rep["metrics"] is not None:
                    apcer[value] = rep["metrics"]["apcer"]
            else:
                rep = summary(mask)
            out[col][value] = rep
    return out, apcer


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


def llr_summary(y_true: Any, llrs: Any) -> dict:
    """``{"cllr", "cllr_min", "n_llr", "llr_min", "llr_max"}`` of finite log10 LRs (JSON-ready;
    the C_llr values are None when a class is missing)."""
    y, s = labels_and_scores(y_true, llrs)
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
