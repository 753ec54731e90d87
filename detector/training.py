"""Training: a grouped, nested cross-validated SVM over per-video feature rows.

``deepfake-detector train --features DIR --out models/NAME``:

1. Candidates: ``Pipeline(impute -> scale -> [SelectKBest] -> SVC)`` with an RBF kernel
   and with a linear kernel; C, gamma and the number of selected features are
   searched by an inner cross-validation **grouped by ``group``** (a fake never sits
   apart from its source video), scored by ROC AUC.  The kernel is one more
   hyper-parameter of that search, so "keep the better of RBF and linear" is decided
   inside the training folds too.  ``--search compact`` searches a smaller space:
   median / IQR scaling, every column, RBF only, C and gamma (:data:`SEARCHES`).
   ``--search auto`` (the shipped default model's) chooses the space itself among the
   eight of :data:`DESIGN_SEARCHES` by a nested grouped CV of the training data
   (:func:`choose_search`), inside each outer training part as well.
2. Outer grouped 5-fold CV gives honest out-of-fold scores: each outer fold runs the
   whole search on its training part only, picks its threshold at the EER point of
   its own inner validation scores, then scores its held-out videos.
3. The shipped model: the same search on all videos; its threshold is the EER point
   of its grouped cross-validated (out-of-fold) scores.

The out-of-fold scores, ROC/DET points and metrics go to ``<out>/evaluation/``.
"""

from __future__ import annotations

import json
import platform
import re
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import RobustScaler, StandardScaler
from sklearn.svm import SVC

from . import evaluation as ev
from .extraction import aggregated_columns, extract_stamp, features_frames, load_features
from .features import FAMILIES, FEATURES_VERSION, family_of
from .model import DetectorModel, save_model

META = ["path", "label", "group", "method", "compression", "dataset"]


class StatSelector(TransformerMixin, BaseEstimator):
    """Keep the aggregated columns whose statistic (the part after ``__``) is in ``stats``
    and whose feature family (the prefix before ``_``) is in ``families``.

    ``columns`` names the input columns in order; ``None`` keeps all.  Lets the grid
    search choose the per-track aggregation (mean only, mean + median, ...) and the
    feature families inside the training folds.
    """

    def __init__(self, columns=None, stats=None, families=None):
        self.columns = columns
        self.stats = stats
        self.families = families

    def fit(self, X, y=None):
        n = np.asarray(X).shape[1]
        cols = list(self.columns) if self.columns is not None else [f"x{i}__all" for i in range(n)]
        if len(cols) != n:
            raise ValueError(f"StatSelector has {len(cols)} column names for {n} columns")
        keep = [i for i, c in enumerate(cols)
                if (self.stats is None or c.split("__")[-1] in self.stats)
                and (self.families is None or family_of(c) in self.families)]
        self.keep_ = np.asarray(keep if keep else range(n), dtype=int)
        self.n_features_in_ = n
        return self

    def transform(self, X):
        return np.asarray(X)[:, self.keep_]


class FamilyFusion(ClassifierMixin, BaseEstimator):
    """Late fusion of one SVM pipeline per feature family: the decision value is the
    mean of the members' decision values (each an SVM margin, so on one scale).

    ``estimators`` are unfitted pipelines (:func:`make_pipeline` with their parameters
    set, each reading one family through its ``stats`` step); :meth:`fit` fits a clone
    of each on all columns.  Families that carry different traces (compression history,
    temporal flicker) err on different videos, so their average beats one SVM over all
    their columns on small data, where the joint model over-fits.

    Fitted attributes: ``estimators_``, ``keep_`` (input columns any member reads),
    ``reference_`` (training mean of every input column, for explanations), ``classes_``.
    """

    def __init__(self, estimators=None):
        self.estimators = estimators

    def fit(self, X, y):
        X = np.asarray(X, dtype=float)
        self.estimators_ = [clone(e).fit(X, y) for e in self.estimators]
        keep = set()
        for e in self.estimators_:
            keep.update(np.asarray(e.named_steps["stats"].keep_, dtype=int).tolist())
        self.keep_ = np.array(sorted(keep), dtype=int)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.reference_ = np.nan_to_num(np.nanmean(X, axis=0))
        self.classes_ = np.unique(y)
        self.n_features_in_ = X.shape[1]
        return self

    def decision_function(self, X):
        X = np.asarray(X, dtype=float)
        return np.mean([e.decision_function(X) for e in self.estimators_], axis=0)

    def predict(self, X):
        return self.classes_[(self.decision_function(X) >= 0).astype(int)]


STAT_CHOICES = [("mean",), ("mean", "median"), None]
#: Family subsets the search may choose from (compression traces alone carried most
#: signal on FF++, see benchmarks/accuracy.py --families).
FAMILY_CHOICES = [None, ("block",)]


#: Named column sets for ``train --columns``.  ``grid``: the block-grid strength columns
#: (the ``block`` family without its DCT statistics): the loss of the source's 8x8
#: compression grid inside the face is shared by all four FF++ methods and by the
#: self-blended fakes, while the smoothness cues (``hf``, ``noise``, ``spec``, the DCT
#: statistics) have opposite signs for different methods (README, "Grid columns only").
#: ``block-mean``: the track means of the ``block`` family (grid strengths and DCT
#: statistics), what the shipped model reads: without the medians, spreads and frame-to-
#: frame changes the search has far fewer ways to over-fit 100 training videos (README,
#: "Track means only"); ``grid-mean``: the track means of ``grid``.
COLUMN_SETS = {"grid": r"^block_(?!dct)", "block-mean": r"^block_.*__mean$", "grid-mean": r"^block_(?!dct).*__mean$"}


def select_columns(columns: list[str], spec: str | None) -> list[str]:
    """The ``columns`` that a column spec keeps: a name of :data:`COLUMN_SETS`, ``all``
    or None (every column), or a regular expression the names must match.

    Raises ``ValueError`` when nothing matches or the expression is invalid.

    >>> select_columns(["block_grid_in__mean", "block_dct_in__mean", "hf_ratio__mean"], "grid")
    ['block_grid_in__mean']
    """
    if spec is None or spec == "all":
        return list(columns)
    try:
        pattern = re.compile(COLUMN_SETS.get(spec, spec))
    except re.error as e:
        raise ValueError(f"--columns {spec!r} is not a column set ({', '.join(COLUMN_SETS)}) "
                         f"nor a valid regular expression: {e}") from None
    kept = [c for c in columns if pattern.search(c)]
    if not kept:
        raise ValueError(f"--columns {spec!r} matches no feature column")
    return kept


#: Search spaces of the inner grid search (``train --search``).  ``full``: standardised
#: columns (mean / sd), the ANOVA selection of the k best, an RBF or a linear SVM, and the
#: per-track statistics and families (:data:`STAT_CHOICES`, :data:`FAMILY_CHOICES`).
#: ``compact``: columns centred on the median and scaled by the inter-quartile range
#: (``RobustScaler``: a few odd videos, such as a composited broadcast, do not set the
#: scale), every offered column, an RBF SVM: only C, gamma and the statistics / families
#: are searched.  With ~100 training videos the inner folds' noise picks among the
#: full grid's many near-equal points; the compact space has fewer of them (README,
#: "A smaller search").
SEARCHES = ("full", "compact")

#: The design space the compact search was picked from (README, "A smaller search"), every
#: combination of scaler x kernels x column selection, named ``<scaler>-<kernels>-<columns>``:
#: ``standard`` or ``robust``; ``rbf+linear`` or ``rbf``; ``k`` (the ANOVA k best searched)
#: or ``all``.  ``full`` is ``standard-rbf+linear-k``, ``compact`` ``robust-rbf-all``.  Any
#: of them is accepted where a search is (``benchmarks/search_choice.py --candidates design``
#: chooses among them inside the training folds).
DESIGN_SEARCHES = tuple(f"{s}-{k}-{c}" for s in ("standard", "robust") for k in ("rbf+linear", "rbf")
                        for c in ("k", "all"))
_SEARCH_ALIASES = {"full": "standard-rbf+linear-k", "compact": "robust-rbf-all"}


#: ``train --search auto``: the search itself chosen among :data:`DESIGN_SEARCHES` by a
#: nested grouped CV of the training data (:func:`choose_search`): inside every outer
#: training part for the evaluation, on all videos for the shipped model.
AUTO = "auto"
#: What ``train --search`` and the benchmarks that run :func:`nested_cv` accept.
SEARCH_CHOICES = (*SEARCHES, AUTO)


def _check_search(search: str, auto: bool = False) -> str:
    if search == AUTO and auto:
        return search
    if _SEARCH_ALIASES.get(search, search) not in DESIGN_SEARCHES:
        known = (*SEARCHES, *((AUTO,) if auto else ()), *DESIGN_SEARCHES)
        raise ValueError(f"search {search!r} is not one of {', '.join(known)}")
    return search


def _check_auto(search: str, fusion: bool, augment) -> None:
    if search == AUTO and (fusion or augment is not None):
        raise ValueError("--search auto is not supported with --fusion or --augment (not measured)")


def search_space(search: str) -> tuple[str, tuple[str, ...], bool]:
    """``(scaler, kernels, select_k)`` of a search (:data:`SEARCHES` or :data:`DESIGN_SEARCHES`)."""
    scaler, kernels, cols = _SEARCH_ALIASES.get(_check_search(search), search).split("-")
    return scaler, tuple(kernels.split("+")), cols == "k"


def make_pipeline(columns: list[str] | None = None, search: str = "full") -> Pipeline:
    """stats -> impute (median) -> scale -> select k best (ANOVA F) -> SVC.

    The scaler is ``StandardScaler`` for the ``full`` search, ``RobustScaler`` (median,
    inter-quartile range) for ``compact`` (:data:`SEARCHES`, :func:`search_space`)."""
    return Pipeline([
        ("stats", StatSelector(columns)),
        ("impute", SimpleImputer(strategy="median")),
        ("scale", RobustScaler() if search_space(search)[0] == "robust" else StandardScaler()),
        ("select", SelectKBest(f_classif, k="all")),
        ("svm", SVC(kernel="rbf", class_weight="balanced")),
    ])


def _distinct_choices(columns: list[str] | None, n_features: int) -> tuple[list, list, int]:
    """The stats and family choices that keep different columns of ``columns`` (the first
    of each equivalent group, in order), and the most columns any choice keeps."""
    if columns is None:
        return STAT_CHOICES, FAMILY_CHOICES, n_features

    def kept(**kw) -> tuple[int, ...]:
        return tuple(StatSelector(columns, **kw).fit(np.zeros((1, len(columns)))).keep_.tolist())

    stats = list({kept(stats=s): s for s in reversed(STAT_CHOICES)}.values())[::-1]
    fams = list({kept(families=f): f for f in reversed(FAMILY_CHOICES)}.values())[::-1]
    return stats, fams, max(len(kept(stats=s, families=f)) for s in stats for f in fams)


def param_grid(n_features: int, quick: bool = False, columns: list[str] | None = None,
               search: str = "full") -> list[dict]:
    """The hyper-parameter grid of :func:`make_pipeline` for ``n_features`` input columns
    (named ``columns`` when known: choices that would keep the same columns as an earlier
    one, and numbers of selected features no choice reaches, are left out; they would
    only repeat a grid point).  The search (:func:`search_space`) sets the kernels and
    whether k is searched: ``compact`` is the RBF part alone, every column kept."""
    stats, fams, most = _distinct_choices(columns, n_features)
    ks = sorted({k for k in (10, 25, 50) if k < min(n_features, most)}) + ["all"]
    cs = [0.1, 1.0, 10.0] if quick else [0.1, 0.3, 1.0, 3.0]
    cols = {"stats__stats": stats[:1], "stats__families": fams[:1]} if quick else \
        {"stats__stats": stats, "stats__families": fams}
    _, kernels, select_k = search_space(search)
    ks = ks if select_k else ["all"]
    grid = {"rbf": {**cols, "select__k": ks, "svm__kernel": ["rbf"], "svm__C": cs,
                    "svm__gamma": ["scale", 0.03] if not quick else ["scale"]},
            "linear": {**cols, "select__k": ks, "svm__kernel": ["linear"], "svm__C": [c / 30 for c in cs]}}
    return [grid[k] for k in kernels]


def feature_matrix(videos: pd.DataFrame, columns: list[str]) -> np.ndarray:
    x = videos[columns].to_numpy(dtype=float)
    return np.where(np.isfinite(x), x, np.nan)


#: Parallel jobs of the grid searches (``train --jobs``); the results do not depend on it.
N_JOBS = 1


def _search(x, y, groups, columns: list[str], n_inner: int, seed: int, quick: bool,
            search: str = "full") -> GridSearchCV:
    inner = ev.grouped_folds(groups, y, n_splits=n_inner, seed=seed)
    gs = GridSearchCV(make_pipeline(columns, search), param_grid(x.shape[1], quick, columns, search),
                      scoring="roc_auc", cv=inner,
                      n_jobs=N_JOBS, refit=True, error_score=np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gs.fit(x, y)
    return gs


#: The fused model averages at most this many families: those with the best inner
#: out-of-fold AUC, the best always, the others only if they reach FUSION_MIN_AUC.
FUSION_SIZE = 2
FUSION_MIN_AUC = 0.70


def _auc(y, s) -> float:
    ok = np.isfinite(s)
    return float(ev.summarize(y[ok], s[ok], n_boot=0)["auc"]) if ok.any() and len(set(y[ok])) == 2 else 0.5


def _search_fusion(x, y, groups, columns: list[str], n_inner: int, seed: int, quick: bool,
                   families=FAMILIES, search: str = "full") -> tuple[FamilyFusion, dict, np.ndarray]:
    """Per-family SVMs, the best :data:`FUSION_SIZE` of them averaged (a second one only
    when it reaches :data:`FUSION_MIN_AUC` on its own), all chosen on the training part.

    For each family: a grouped grid search, then the grouped out-of-fold scores of its
    best pipeline (the same inner folds); the families with the best of those AUCs are
    fused (the mean of their out-of-fold scores *is* the fused model's out-of-fold
    score, members being fitted independently).  A fixed size, not a greedy search:
    with ~100 training videos the inner AUCs differ by noise beyond the first few
    families, and adding on small gains picked noise families (measured: 0.72 AUC vs
    0.78 for block alone).  Returns the fitted :class:`FamilyFusion`, its parameters
    and its inner out-of-fold scores.
    """
    inner = list(ev.grouped_folds(groups, y, n_splits=n_inner, seed=seed))
    found = {}
    for fam in families:
        n_fam = sum(family_of(c) == fam for c in columns)  # its aggregated columns
        if n_fam == 0:
            continue
        grid = [{**g, "stats__families": [(fam,)],
                 "select__k": [k for k in g["select__k"] if k == "all" or k < n_fam] or ["all"]}
                for g in param_grid(x.shape[1], quick, columns, search)]
        gs = GridSearchCV(make_pipeline(columns, search), grid, scoring="roc_auc", cv=inner, n_jobs=N_JOBS, refit=False,
                          error_score=np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gs.fit(x, y)
        pipe = make_pipeline(columns, search).set_params(**gs.best_params_)
        oof = _oof_scores(pipe, x, y, groups, n_inner, seed)
        found[fam] = (pipe, gs.best_params_, oof, _auc(y, oof))
    ranked = sorted(found, key=lambda f: -found[f][3])
    kept = ranked[:1] + [f for f in ranked[1:FUSION_SIZE] if found[f][3] >= FUSION_MIN_AUC]
    fused = np.mean([found[f][2] for f in kept], axis=0)
    fusion = FamilyFusion([found[f][0] for f in kept]).fit(x, y)
    params = {"fusion_families": kept, "family_inner_auc": {f: round(found[f][3], 4) for f in ranked},
              "members": {f: {k: v for k, v in found[f][1].items() if k != "stats__families"} for f in kept},
              "inner_auc": _auc(y, fused)}
    return fusion, params, fused


def _oof_scores(estimator, x, y, groups, n_splits: int, seed: int) -> np.ndarray:
    """Grouped out-of-fold decision scores of a fixed estimator."""
    s = np.full(len(y), np.nan)
    for tr, te in ev.grouped_folds(groups, y, n_splits=n_splits, seed=seed):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s[te] = clone(estimator).fit(x[tr], y[tr]).decision_function(x[te])
    return s


@dataclass
class CVResult:
    scores: pd.DataFrame  # meta + fold, score, fold_threshold, verdict
    params: list[dict]  # chosen parameters per outer fold
    fold_models: list  # fitted estimators per outer fold
    #: with ``augment``: the test folds' degraded copies scored by their fold's model
    #: (meta + source_path, condition, fold, score, fold_threshold); None without
    copy_scores: pd.DataFrame | None = None


def _choose(x, y, groups, columns: list[str], n_inner: int, seed: int, quick: bool, fusion: bool,
            search: str = "full"):
    """The model chosen on a training part: (fitted estimator, parameters, its grouped
    inner out-of-fold scores).  ``fusion``: one SVM per family, the helpful ones averaged
    (:func:`_search_fusion`); else one SVM whose families are part of the grid.
    ``search``: the search space (:data:`SEARCHES`)."""
    if fusion:
        return _search_fusion(x, y, groups, columns, n_inner, seed, quick, search=search)
    gs = _search(x, y, groups, columns, n_inner, seed, quick, search)
    est, params = gs.best_estimator_, {**gs.best_params_, "inner_auc": float(gs.best_score_)}
    return est, params, _oof_scores(est, x, y, groups, n_inner, seed)


def _with_copies(x, y, g, rows: np.ndarray, videos: pd.DataFrame, augment: pd.DataFrame | None, columns: list[str]):
    """The training part ``rows`` of (x, y, groups) plus the rows of ``augment`` whose
    ``source_path`` is one of those videos' ``abs_path`` (they carry their source's
    label and group, so the inner grouped folds keep a copy with its source)."""
    if augment is None or augment.empty:
        return x[rows], y[rows], g[rows]
    src = set(videos["abs_path"].iloc[rows].astype(str))
    a = augment[augment["source_path"].astype(str).isin(src)]
    if a.empty:
        return x[rows], y[rows], g[rows]
    return (np.vstack([x[rows], feature_matrix(a, columns)]), np.concatenate([y[rows], ev.as_binary(a["label"])]),
            np.concatenate([g[rows], a["group"].astype(str).to_numpy()]))


def _copies_of(videos: pd.DataFrame, augment: pd.DataFrame | None) -> pd.DataFrame | None:
    """``augment`` restricted to copies with a face whose source is a row of ``videos``,
    labelled and grouped as that source (a copy never disagrees with its source)."""
    if augment is None:
        return None
    if "source_path" not in augment.columns:
        raise ValueError("augmentation rows need a 'source_path' column (detector.degrade.make_degraded)")
    if "abs_path" not in videos.columns:
        raise ValueError("augmentation needs the videos' 'abs_path' (as 'extract' writes it) to find their copies")
    src = videos.drop_duplicates("abs_path").set_index(videos.drop_duplicates("abs_path")["abs_path"].astype(str))
    a = augment[augment["source_path"].astype(str).isin(src.index) & (augment.get("n_faces", 1) > 0)].copy()
    for c in ("label", "group", "method", "compression"):
        if c in src.columns:
            a[c] = src.loc[a["source_path"].astype(str), c].to_numpy()
    return a.reset_index(drop=True)


def choose_search(videos: pd.DataFrame, columns: list[str], seed: int = 0,
                  candidates: tuple[str, ...] = DESIGN_SEARCHES, n_outer: int = 4, n_inner: int = 4,
                  quick: bool = False) -> tuple[str, dict[str, float]]:
    """The search (of ``candidates``) whose :func:`nested_cv` on ``videos`` has the highest
    out-of-fold AUC (``n_outer`` grouped folds, fold seed ``seed``; ties go to the first),
    and every candidate's AUC.  What ``--search auto`` runs on each training part."""
    if len(candidates) < 1:
        raise ValueError("choose_search needs at least one candidate search")
    aucs = {}
    for s in candidates:
        sc = nested_cv(videos, columns, n_outer=n_outer, n_inner=n_inner, seed=seed, quick=quick,
                       log=lambda *a: None, search=s).scores
        aucs[s] = float(ev.summarize(ev.as_binary(sc["label"]), sc["score"], n_boot=0)["auc"])
    return max(candidates, key=lambda s: aucs[s]), aucs


def selection_seed(seed: int, fold: int | None = None) -> int:
    """Fold seed of :func:`choose_search` for outer fold ``fold`` of fold seed ``seed``
    (None: the choice on all videos for the shipped model)."""
    return 10_000 + seed if fold is None else 1000 + 10 * seed + fold


def nested_cv(videos: pd.DataFrame, columns: list[str], n_outer: int = 5, n_inner: int = 4, seed: int = 0,
              quick: bool = False, log=print, fusion: bool = False, augment: pd.DataFrame | None = None,
              search: str = "full") -> CVResult:
    """Honest out-of-fold scores: every choice (families, hyper-parameters, kernel,
    threshold) is made inside the training part of each outer fold.

    ``augment``: extra training rows (degraded copies, :mod:`detector.degrade`) with a
    ``source_path`` naming their source video's ``abs_path``.  A copy joins the training
    part of the folds where its source is a training video, never a test fold: the
    out-of-fold scores are those of ``videos`` alone.  The threshold is the EER point of
    the inner out-of-fold scores of the training part, copies included.  The test fold's
    own copies are scored by that fold's model too (``CVResult.copy_scores``): how the
    same models do on re-encoded versions of the held-out videos.  ``search``: the
    inner search space (:data:`SEARCHES`, :data:`DESIGN_SEARCHES`), or ``"auto"``: in each
    outer fold :func:`choose_search` picks one on the training part alone (fold seed
    :func:`selection_seed`), and that search's model scores the held-out videos; the
    pick is in the fold's parameters (``search``, ``search_aucs``)."""
    _check_search(search, auto=True)
    _check_auto(search, fusion, augment)
    x = feature_matrix(videos, columns)
    y = ev.as_binary(videos["label"])
    g = videos["group"].astype(str).to_numpy()
    augment = _copies_of(videos, augment)
    out = videos[[c for c in META if c in videos.columns]].copy()
    out["fold"], out["score"], out["fold_threshold"] = -1, np.nan, np.nan
    params, models, copy_parts = [], [], []
    for k, (tr, te) in enumerate(ev.grouped_folds(g, y, n_splits=n_outer, seed=seed)):
        xt, yt, gt = _with_copies(x, y, g, tr, videos, augment, columns)
        fold_search, picked = search, {}
        if search == AUTO:
            fold_search, aucs = choose_search(videos.iloc[tr].reset_index(drop=True), columns,
                                              selection_seed(seed, k), n_inner=n_inner, quick=quick)
            picked = {"search": fold_search, "search_aucs": aucs}
        est, p, inner_scores = _choose(xt, yt, gt, columns, n_inner, seed + 1 + k, quick, fusion, fold_search)
        p = {**p, **picked}
        _, thr = ev.eer(yt, inner_scores)
        if augment is not None and len(augment):
            held = augment[augment["source_path"].astype(str).isin(set(videos["abs_path"].iloc[te].astype(str)))]
            if len(held):
                copy_parts.append(held[[c for c in (*META, "source_path", "condition") if c in held.columns]]
                                  .assign(fold=k, score=est.decision_function(feature_matrix(held, columns)),
                                          fold_threshold=thr))
        out.iloc[te, out.columns.get_loc("score")] = est.decision_function(x[te])
        out.iloc[te, out.columns.get_loc("fold")] = k
        out.iloc[te, out.columns.get_loc("fold_threshold")] = thr
        params.append({**p, "threshold": float(thr)})
        models.append(est)
        log(f"  fold {k}: inner AUC {p['inner_auc']:.3f} with {p}")
    out["verdict"] = np.where(out["score"] >= out["fold_threshold"], "fake", "real")
    copies = pd.concat(copy_parts, ignore_index=True) if copy_parts else None
    return CVResult(out, params, models, copies)


def fit_final(videos: pd.DataFrame, columns: list[str], n_inner: int = 5, seed: int = 0,
              quick: bool = False, fusion: bool = False, augment: pd.DataFrame | None = None,
              search: str = "full"):
    """The shipped model: the same choice on all videos (and all copies of ``augment``,
    as :func:`nested_cv`), threshold at the EER of its grouped out-of-fold scores.
    ``search="auto"``: the search :func:`choose_search` picks on all videos (fold seed
    :func:`selection_seed`), named in the parameters.
    Returns (estimator, parameters, threshold, those scores)."""
    _check_search(search, auto=True)
    _check_auto(search, fusion, augment)
    picked = {}
    if search == AUTO:
        search, aucs = choose_search(videos, columns, selection_seed(seed), quick=quick)
        picked = {"search": search, "search_aucs": aucs}
    x = feature_matrix(videos, columns)
    y = ev.as_binary(videos["label"])
    g = videos["group"].astype(str).to_numpy()
    x, y, g = _with_copies(x, y, g, np.arange(len(videos)), videos, _copies_of(videos, augment), columns)
    est, params, oof = _choose(x, y, g, columns, n_inner, seed, quick, fusion, search)
    params = {**params, **picked}
    _, thr = ev.eer(y, oof)
    return est, params, float(thr), oof


def frame_level_scores(frames: pd.DataFrame, cv: CVResult, columns: list[str]) -> pd.DataFrame:
    """Out-of-fold per-frame scores: each frame scored by the model of its video's fold,
    as a one-frame track (see :func:`detector.analysis.single_frame_rows`)."""
    from .analysis import single_frame_rows

    if frames.empty:
        return pd.DataFrame()
    fold_of = dict(zip(cv.scores["path"], cv.scores["fold"]))
    rows = []
    for path, f in frames.groupby("path"):
        k = fold_of.get(path, -1)
        if k < 0:
            continue
        x = feature_matrix(single_frame_rows(f), columns)
        s = cv.fold_models[k].decision_function(x)
        rows.append(f[[c for c in ["path", "label", "group", "method", "compression", "frame", "track_id"]
                       if c in f.columns]].assign(score=s, fold=k))
    return pd.concat(rows, ignore_index=True)


def rescore(cv: CVResult, videos: pd.DataFrame, columns: list[str]) -> CVResult:
    """The same out-of-fold models scoring other features of the same videos.

    ``videos``: a per-video table of the cross-validated videos made another way, e.g.
    extracted with fewer sampled frames, as the scanner samples them (``train
    --eval-features``).  Each video is scored by the model of its own outer fold, at
    that fold's threshold; a video without a face there gets no score (verdict
    ``no-face``).  Raises ValueError when some cross-validated video is missing.
    """
    out = cv.scores.copy()
    by_path = videos.drop_duplicates("path").set_index("path")
    missing = [p for p in out["path"] if p not in by_path.index]
    if missing:
        raise ValueError(f"{len(missing)} of the {len(out)} training videos are not in the evaluation features "
                         f"(first: {missing[0]}); extract them with the same manifest")
    ev_rows = by_path.loc[out["path"]].reset_index()
    has = ev_rows.get("n_faces", pd.Series(1, index=ev_rows.index)).to_numpy() > 0
    score = np.full(len(out), np.nan)
    for k, model in enumerate(cv.fold_models):
        sel = has & (out["fold"].to_numpy() == k)
        if sel.any():
            score[sel] = model.decision_function(feature_matrix(ev_rows[sel], columns))
    out["score"] = score
    out["verdict"] = np.where(~np.isfinite(score), "no-face",
                              np.where(score >= out["fold_threshold"], "fake", "real"))
    return CVResult(out, cv.params, cv.fold_models)


def deployed_scores(frames: pd.DataFrame, videos: pd.DataFrame, cv: CVResult, columns: list[str]) -> pd.DataFrame:
    """Out-of-fold video scores by the rule :func:`detector.analysis.analyze` applies: the
    highest score among the tracks seen in enough sampled frames
    (:func:`detector.analysis.scored_tracks`), each track scored by its video's fold model.

    ``cv.scores`` uses the main track only (what the model is trained on); a video with
    several people can score differently here.  Returns ``cv.scores`` with ``score`` (and
    ``verdict``) replaced and the main-track score kept as ``main_track_score``.
    """
    from .analysis import scored_tracks, track_results

    out = cv.scores.copy()
    out["main_track_score"] = out["score"]
    where = {p: i for i, p in enumerate(out["path"])}
    n_sampled = dict(zip(videos["path"], videos.get("n_sampled", pd.Series(16, index=videos.index))))
    if frames.empty or "path" not in frames.columns:  # no per-frame table: the main tracks' scores stand
        return out
    for path, f in frames.groupby("path"):
        i = where.get(path)
        if i is None or out["fold"].iat[i] < 0:
            continue
        trs = scored_tracks(track_results(f), int(n_sampled.get(path, 16)))
        x = feature_matrix(pd.DataFrame([t.features for t in trs]), columns)
        out.iloc[i, out.columns.get_loc("score")] = float(cv.fold_models[int(out["fold"].iat[i])].decision_function(x).max())
    out["verdict"] = np.where(out["score"] >= out["fold_threshold"], "fake", "real")
    return out


def _library_versions() -> dict:
    import cv2
    import sklearn
    import skimage

    return {"python": platform.python_version(), "numpy": np.__version__, "pandas": pd.__version__,
            "scikit-learn": sklearn.__version__, "scikit-image": skimage.__version__, "opencv": cv2.__version__}


def headline(summary: dict) -> dict:
    """The few numbers a reader wants first, from an evaluate_table() result."""
    o = summary.get("overall", summary)
    m = o.get("metrics", {})
    return {k: o.get(k) for k in ("auc", "auc_ci", "eer", "eer_threshold", "n")} | \
        {k: m.get(k) for k in ("far", "frr", "hter")}


def subset_aucs(scores: pd.DataFrame) -> dict:
    """AUC and EER of the out-of-fold scores for the slices the issue asks about."""
    real = scores["label"] == "real"
    out = {}
    slices = {
        "face_swap_vs_real": scores["method"].isin(["Deepfakes", "FaceSwap"]),
        "reenactment_vs_real": scores["method"].isin(["Face2Face", "NeuralTextures"]),
    }
    for name, fake in slices.items():
        for comp in ("all", "c23", "c40"):
            sel = (real | fake) if comp == "all" else ((real | fake) & (scores["compression"] == comp))
            d = scores[sel & scores["score"].notna()]
            key = name if comp == "all" else f"{name}_{comp}"
            if d["label"].nunique() == 2:
                sm = ev.summarize(d["label"], d["score"], n_boot=0)
                out[key] = {"auc": sm["auc"], "eer": sm["eer"], "n_real": int((d["label"] == "real").sum()),
                            "n_fake": int((d["label"] == "fake").sum())}
    return out


def train(features_dir: str, out_dir: str, name: str | None = None, version: str = "1", seed: int = 0,
          quick: bool = False, command: str | None = None, log=print, fusion: bool = False,
          drop: tuple[str, ...] = (), columns: str | None = None,
          eval_features: str | None = None, augment: str | None = None, workers: int | None = 2,
          search: str = "full") -> DetectorModel:
    """Fit, cross-validate, evaluate and save a model folder (see module docstring).

    ``drop``: feature families left out; ``columns``: a column spec for
    :func:`select_columns` (``grid``, a regular expression, or None/``all``);
    ``eval_features``: features of the same videos extracted another way (typically
    with the scanner's 16 frames when ``features_dir`` has more): the out-of-fold models
    are trained on ``features_dir`` and the evaluation scores these (:func:`rescore`),
    so the reported numbers are those of the deployed setting;
    ``augment``: a folder for degraded copies of the training videos
    (:func:`detector.degrade.degraded_features`, made there if missing with ``workers``
    processes), added to the training parts only (:func:`nested_cv`);
    ``search``: the inner search space (:data:`SEARCHES`: ``full`` or ``compact``), or
    ``auto`` (:data:`AUTO`: chosen among :data:`DESIGN_SEARCHES` by a nested CV inside every
    training part, and on all videos for the model; about 8x the training time)."""
    _check_search(search, auto=True)
    _check_auto(search, fusion, augment)
    t0 = time.time()
    frames, videos = load_features(features_dir)
    spec = None if columns in (None, "all") else columns
    columns = [c for c in aggregated_columns(videos) if family_of(c) not in set(drop)]
    if not columns:
        raise ValueError(f"no feature columns left after dropping {list(drop)}")
    columns = select_columns(columns, spec)
    usable = videos[videos.get("n_faces", 0) > 0].reset_index(drop=True)
    skipped = videos[~videos.index.isin(videos.index[videos.get("n_faces", 0) > 0])]
    log(f"{len(usable)} videos with faces ({len(skipped)} without), {len(columns)} features")
    copies, aug_note = None, None
    if augment:
        from .degrade import CONDITIONS, SPAN, degraded_features

        copies = _copies_of(usable, degraded_features(features_dir, augment, workers=workers, log=log))
        missing = [c for c in columns if c not in copies.columns]
        if missing:
            raise ValueError(f"the degraded copies in {augment} lack the columns {missing[:5]}")
        aug_note = {"dir": str(augment), "conditions": {k: {"crf": v[0], "scale": v[1]} for k, v in CONDITIONS.items()},
                    "span_frames": SPAN, "n_copies": int(len(copies)),
                    "note": "re-encoded copies of the training videos, in the training parts only"}
        log(f"augmentation: {len(copies)} degraded copies of {copies['source_path'].nunique()} videos ({augment})")
    log("nested grouped CV:")
    cv = nested_cv(usable, columns, seed=seed, quick=quick, log=log, fusion=fusion, augment=copies, search=search)
    pipe, params, thr, oof_final = fit_final(usable, columns, seed=seed, quick=quick, fusion=fusion, augment=copies,
                                             search=search)
    log(f"final model: {params}, threshold {thr:+.4f}")
    train_cv, scored_videos = None, usable
    if eval_features:  # evaluate the same out-of-fold models on the deployed setting's features
        frames, scored_videos = load_features(eval_features)
        train_cv, cv = cv, rescore(cv, scored_videos, columns)

    out = Path(out_dir)
    evd = out / "evaluation"
    evd.mkdir(parents=True, exist_ok=True)
    n_train, n_eval = features_frames(features_dir), features_frames(eval_features) if eval_features else None
    frames_note = {"training": n_train, "evaluation": n_eval or n_train,
                   "evaluation_features": str(eval_features) if eval_features else None}
    scores = cv.scores
    if len(skipped):  # no face: no score, kept so nothing silently disappears
        miss = skipped[[c for c in META if c in skipped.columns]].assign(fold=-1, score=np.nan,
                                                                          fold_threshold=np.nan, verdict="no-face")
        scores = pd.concat([scores, miss], ignore_index=True)
    scores.to_csv(evd / "scores.csv", index=False)
    fscores = frame_level_scores(frames, cv, columns)
    if len(fscores):
        fscores.to_csv(evd / "frame_scores.csv", index=False)
    video_eval = ev.evaluate_table(scores, threshold=thr)
    scored = scores[scores["score"].notna()]
    fold_thr = ev.metrics_at_threshold(ev.as_binary(scored["label"]), scored["score"] - scored["fold_threshold"], 0.0)
    frame_eval = ev.evaluate_table(fscores, threshold=thr, by=("method", "compression")) if len(fscores) else None
    # The same out-of-fold models, videos scored the way analyze() scores them (highest qualifying track).
    deployed = deployed_scores(frames, scored_videos, cv, columns)
    deployed.to_csv(evd / "scores_deployed_rule.csv", index=False)
    dep_eval = ev.evaluate_table(deployed, threshold=thr)
    dep_eval["n_videos_differing"] = int((deployed["score"] != deployed["main_track_score"]).sum())
    y = ev.as_binary(scored["label"])
    ev.roc_points(y, scored["score"]).to_csv(evd / "roc.csv", index=False)
    ev.det_curve_points(y, scored["score"]).to_csv(evd / "det.csv", index=False)
    metrics = {
        "convention": ev.CONVENTION,
        "threshold": thr,
        "video": video_eval,
        "video_at_fold_thresholds": fold_thr,
        "video_deployed_rule": dep_eval,
        "frame": frame_eval,
        "subsets": subset_aucs(scores),
        "folds": cv.params,
        "protocol": "nested grouped 5-fold CV (outer) x grouped 4-fold grid search (inner), split by 'group'",
        "frames": frames_note,
    }
    degraded = None
    if cv.copy_scores is not None:  # the held-out videos' re-encoded copies, by condition
        cv.copy_scores.to_csv(evd / "scores_degraded_copies.csv", index=False)
        degraded = {}
        for cond, d in cv.copy_scores.groupby("condition"):
            yy = ev.as_binary(d["label"])
            summ = ev.summarize(yy, d["score"], n_boot=0) if len(set(yy)) == 2 else {}
            at = ev.metrics_at_threshold(yy, d["score"] - d["fold_threshold"], 0.0)
            degraded[str(cond)] = {"auc": summ.get("auc"), "eer": summ.get("eer"), "n": int(len(d)),
                                   "far": at.get("far"), "frr": at.get("frr"),
                                   "subsets": subset_aucs(d)}
        metrics["degraded_copies"] = degraded
    if train_cv is not None:
        train_cv.scores.to_csv(evd / "scores_training_frames.csv", index=False)
        metrics["video_training_frames"] = ev.evaluate_table(train_cv.scores, threshold=thr)
        metrics["subsets_training_frames"] = subset_aucs(train_cv.scores)
    (evd / "metrics.json").write_text(json.dumps(ev.to_jsonable(metrics), indent=2))

    counts = videos.groupby(["label", "method", "compression"]).size().reset_index(name="n")
    card = {
        "description": ("Late fusion of per-family SVMs" if fusion else
                        _svm_description(params.get("search", search))) +
                       " over self-referenced face artifact features (face vs its own "
                       "surroundings), aggregated per face track.",
        "training": {"features_dir": str(features_dir), "manifest": extract_stamp(features_dir).get("manifest"),
                     "n_videos": int(len(usable)),
                     "n_groups": int(usable["group"].nunique()),
                     "manifest_sha256": _manifest_hash(usable),
                     "counts": counts.to_dict("records")},
        "parameters": params,
        "search": search,
        "families": sorted({family_of(c) for c in columns}),
        "column_set": {"spec": spec or "all", "pattern": COLUMN_SETS.get(spec, spec), "n_offered": len(columns)},
        **({"augmentation": aug_note} if aug_note else {}),
        "metrics": {"video": headline(video_eval), "subsets": metrics["subsets"],
                    "video_at_fold_thresholds": {k: fold_thr.get(k) for k in ("far", "frr", "hter")},
                    "video_deployed_rule": headline(dep_eval) | {"n_videos_differing": dep_eval["n_videos_differing"]},
                    **({"video_training_frames": headline(metrics["video_training_frames"]),
                        "subsets_training_frames": metrics["subsets_training_frames"]} if train_cv is not None else {}),
                    **({"degraded_copies": {c: {k: v for k, v in d.items() if k != "subsets"}
                                            | {"face_swap_vs_real_c23": d["subsets"].get("face_swap_vs_real_c23")}
                                            for c, d in degraded.items()}} if degraded else {}),
                    "frame": headline(frame_eval) if frame_eval else None},
        "frames": frames_note,
        "command": command or _recipe(features_dir, out_dir, seed, quick, name, version, fusion, drop, spec,
                                      eval_features, augment, search),
        "libraries": _library_versions(),
        "trained_seconds": round(time.time() - t0, 1),
    }
    model = DetectorModel(pipe, columns, thr, name or out.name, version, card)
    save_model(model, out, card=card)
    return model


def _svm_description(search: str) -> str:
    scaler, kernels, _ = search_space(search)
    return ("RBF" if kernels == ("rbf",) else "RBF/linear") + " SVM" + \
        (" (median / IQR scaled)" if scaler == "robust" else "")


def _recipe(features_dir: str, out_dir: str, seed: int, quick: bool, name: str | None = None,
            version: str = "1", fusion: bool = False, drop: tuple[str, ...] = (),
            columns: str | None = None, eval_features: str | None = None, augment: str | None = None,
            search: str = "full") -> str:
    """The commands that reproduce this model from its manifest."""
    train_cmd = f"deepfake-detector train --features {features_dir} --out {out_dir} --seed {seed}" + \
        (f" --name {name}" if name else "") + f" --version {version}" + (" --quick" if quick else "") + \
        (" --fusion" if fusion else "") + ("".join(f" --drop {f}" for f in drop)) + \
        (f" --columns '{columns}'" if columns else "") + (f" --eval-features {eval_features}" if eval_features else "") + \
        (f" --augment {augment}" if augment else "") + (f" --search {search}" if search != "full" else "")
    steps = []
    for d in (features_dir, eval_features):
        stamp = extract_stamp(d)
        if stamp.get("manifest"):
            steps.append(f"deepfake-detector extract --manifest {stamp['manifest']} --out {d} "
                         f"--frames {stamp.get('n_frames', 16)}")
    return " && ".join([*steps, train_cmd])


def _manifest_hash(videos: pd.DataFrame) -> str:
    import hashlib

    cols = [c for c in ("path", "label", "group", "sha256") if c in videos.columns]
    text = videos[cols].sort_values(cols[0]).to_csv(index=False)
    return hashlib.sha256(text.encode()).hexdigest()


def cmd_train(args) -> int:
    global N_JOBS
    N_JOBS = max(1, int(getattr(args, "jobs", 1) or 1))
    if getattr(args, "self_blended_rounds", None) is not None and not getattr(args, "self_blended", None):
        raise ValueError("--self-blended-rounds needs --self-blended only|add")
    if getattr(args, "eval_features", None) and getattr(args, "self_blended", None):
        raise ValueError("--eval-features is not supported with --self-blended")
    if getattr(args, "augment", None) and getattr(args, "self_blended", None):
        raise ValueError("--augment is not supported with --self-blended")
    if getattr(args, "search", "full") != "full" and getattr(args, "self_blended", None):
        raise ValueError(f"--search {args.search} is not supported with --self-blended "
                         "(measured with the full search only)")
    if getattr(args, "self_blended", None):
        from .selfblend import train_self_blended

        m = train_self_blended(args.features, args.out, mode=args.self_blended, sbi_dir=args.self_blended_dir,
                               workers=args.workers, seed=args.seed, quick=args.quick, name=args.name,
                               version=args.version, drop=tuple(args.drop), columns=args.columns,
                               rounds=args.self_blended_rounds)
    else:
        m = train(args.features, args.out, name=args.name, version=args.version, seed=args.seed, quick=args.quick,
                  fusion=args.fusion, drop=tuple(args.drop), columns=args.columns, eval_features=args.eval_features,
                  augment=getattr(args, "augment", None), workers=args.workers,
                  search=getattr(args, "search", "full"))
    h = m.card["metrics"]["video"]
    print(f"saved {args.out}: out-of-fold video AUC {h['auc']:.3f} (95% CI {h['auc_ci']}), "
          f"EER {h['eer']:.3f}, threshold {m.threshold:+.4f}")
    for k, v in m.card["metrics"]["subsets"].items():
        print(f"  {k}: AUC {v['auc']:.3f} ({v['n_real']} real, {v['n_fake']} fake)")
    return 0


def register_cli(sub) -> None:
    s = sub.add_parser("train", help="train, cross-validate and save an SVM model from extracted features")
    s.add_argument("--features", required=True, help="folder written by 'extract'")
    s.add_argument("--out", required=True, help="model folder, e.g. models/default")
    s.add_argument("--name", default=None)
    s.add_argument("--version", default="1")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--quick", action="store_true", help="a small grid (for trials)")
    s.add_argument("--jobs", type=int, default=1, help="parallel jobs for the grid searches (same result)")
    s.add_argument("--drop", action="append", default=[], choices=list(FAMILIES), metavar="FAMILY",
                   help="leave a feature family out (repeatable), e.g. --drop flick for a cheaper scan")
    s.add_argument("--columns", default=None, metavar="SPEC",
                   help="the feature columns offered to the model: 'all', 'grid' (block-grid strengths only), "
                        "'block-mean' (the block family's track means: the shipped model's), 'grid-mean', or a "
                        "regular expression on column names; default: 'grid-mean' with --self-blended only (measured "
                        "better on real fakes, README), else all")
    s.add_argument("--eval-features", default=None, metavar="DIR",
                   help="features of the same videos extracted with the frames the scanner samples (e.g. "
                        "--frames 16 when --features has 32): the out-of-fold models trained on --features score "
                        "these, so the evaluation is that of the deployed setting (README: training on more "
                        "frames than are scanned)")
    s.add_argument("--fusion", action="store_true",
                   help="average per-family SVMs (the best two families of the inner CV) instead of one SVM "
                        "over the families the grid picks (measured: not better overall, see README)")
    s.add_argument("--self-blended", choices=["only", "add"], default=None,
                   help="add self-blended fakes of the real videos (detector/selfblend.py): 'only' trains on the "
                        "real videos + their self-blended fakes (no real fakes needed), 'add' keeps the dataset's fakes")
    s.add_argument("--self-blended-dir", default=None, help="where to write them (default: FEATURES/self_blended)")
    s.add_argument("--self-blended-rounds", type=int, default=None, metavar="N",
                   help="self-blended fakes (and controls) made of each real video, each with other random "
                        "blend parameters (default: detector.selfblend.DEFAULT_ROUNDS)")
    s.add_argument("--augment", default=None, metavar="DIR",
                   help="add re-encoded copies of the training videos (CRF 28, CRF 35, half size; detector/degrade.py) "
                        "to the training parts, made in DIR if missing: a model for re-encoded platform video "
                        "(README: Re-encoding destroys the main cue)")
    s.add_argument("--search", choices=list(SEARCH_CHOICES), default="full",
                   help="the inner grid search: 'full' (standardised columns, k best, RBF or linear SVM), "
                        "'compact' (median / IQR scaling, every column, RBF only; README, 'A smaller search') "
                        "or 'auto' (the search chosen among eight by a nested CV of the training data: the "
                        "shipped model's; about 8x slower)")
    s.add_argument("--workers", type=int, default=2, help="worker processes for --self-blended and --augment (default 2)")
    s.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="score a labelled manifest with a model and write scores + metrics")
    e.add_argument("--manifest", required=True)
    e.add_argument("--model", default=None, help="model folder (default: models/default)")
    e.add_argument("--out", required=True)
    e.add_argument("--features", default=None, help="reuse/extract features in this folder")
    e.add_argument("--frames", type=int, default=16)
    e.add_argument("--workers", type=int, default=None)
    e.set_defaults(func=cmd_evaluate)


def evaluate_manifest(manifest_csv: str, model_dir: str | None, out_dir: str, features_dir: str | None = None,
                      n_frames: int = 16, workers: int | None = None) -> dict:
    """Score every video of a labelled manifest with a fixed model (held-out evaluation)."""
    from .datasets import read_manifest
    from .extraction import extract
    from .model import load_model

    model = load_model(model_dir)
    m = read_manifest(manifest_csv)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fdir = Path(features_dir) if features_dir else out / "features"
    frames, videos = extract(m, fdir, n_frames=n_frames, workers=workers)
    has = videos.get("n_faces", pd.Series(0, index=videos.index)) > 0
    videos["score"] = np.nan
    if has.any():
        videos.loc[has, "score"] = model.decision_function(videos[has])
    videos["verdict"] = np.where(~has, "no-face", np.where(videos["score"] >= model.threshold, "fake", "real"))
    cols = [c for c in META + ["score", "verdict"] if c in videos.columns]
    videos[cols].to_csv(out / "scores.csv", index=False)
    result = {"model": model.summary(), "threshold": model.threshold,
              "video": ev.evaluate_table(videos[cols], threshold=model.threshold)}
    if len(frames):
        from .analysis import single_frame_rows

        fs = frames.assign(score=model.decision_function(single_frame_rows(frames)))
        fs[[c for c in META + ["frame", "track_id", "score"] if c in fs.columns]].to_csv(out / "frame_scores.csv", index=False)
        result["frame"] = ev.evaluate_table(fs, threshold=model.threshold)
    s = videos[videos["score"].notna()]
    if s["label"].nunique() == 2:
        y = ev.as_binary(s["label"])
        ev.roc_points(y, s["score"]).to_csv(out / "roc.csv", index=False)
        ev.det_curve_points(y, s["score"]).to_csv(out / "det.csv", index=False)
    (out / "metrics.json").write_text(json.dumps(ev.to_jsonable(result), indent=2))
    return result


def cmd_evaluate(args) -> int:
    r = evaluate_manifest(args.manifest, args.model, args.out, args.features, args.frames, args.workers)
    o = r["video"]["overall"]
    print(f"{o.get('n')} videos: AUC {o.get('auc')}, EER {o.get('eer')}; FAR/FRR at threshold "
          f"{r['threshold']:+.4f}: {o['metrics'].get('far')} / {o['metrics'].get('frr')} -> {args.out}")
    return 0
