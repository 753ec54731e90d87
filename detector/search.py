"""Search spaces: the model pipeline, its hyper-parameter grids and the column sets offered.

The candidate model is ``Pipeline(stats -> impute -> scale -> [SelectKBest] -> SVC)``
(:func:`make_pipeline`); :func:`param_grid` is what an inner grouped cross-validation
searches over (C, gamma, the kernel, the number of selected features, the per-track
statistics and feature families), within a named search space (:data:`SEARCHES`,
:data:`DESIGN_SEARCHES`).  :func:`fit_grid` runs that search on a feature matrix,
grouped by ``group`` and scored by ROC AUC; :func:`grid_search` does it on a table of
videos.  Nothing here chooses among searches or writes files (:mod:`detector.crossval`,
:mod:`detector.training`).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.impute import SimpleImputer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import RobustScaler, StandardScaler
from sklearn.svm import SVC

from . import evaluation as ev
from .estimators import StatSelector
from .metrics import as_binary
from .search_names import AUTO, SEARCH_CHOICES, SEARCHES  # noqa: F401  (the names, also read from here)

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


#: The design space the compact search was picked from (README, "A smaller search"), every
#: combination of scaler x kernels x column selection, named ``<scaler>-<kernels>-<columns>``:
#: ``standard`` or ``robust``; ``rbf+linear`` or ``rbf``; ``k`` (the ANOVA k best searched)
#: or ``all``.  ``full`` is ``standard-rbf+linear-k``, ``compact`` ``robust-rbf-all``.  Any
#: of them is accepted where a search is (``benchmarks/search_choice.py --candidates design``
#: chooses among them inside the training folds).
DESIGN_SEARCHES = tuple(f"{s}-{k}-{c}" for s in ("standard", "robust") for k in ("rbf+linear", "rbf")
                        for c in ("k", "all"))
_SEARCH_ALIASES = {"full": "standard-rbf+linear-k", "compact": "robust-rbf-all"}


def check_search(search: str, auto: bool = False) -> str:
    """``search`` when it names a search space (or, with ``auto``, is :data:`AUTO`);
    raises ``ValueError`` otherwise."""
    if search == AUTO and auto:
        return search
    if _SEARCH_ALIASES.get(search, search) not in DESIGN_SEARCHES:
        known = (*SEARCHES, *((AUTO,) if auto else ()), *DESIGN_SEARCHES)
        raise ValueError(f"search {search!r} is not one of {', '.join(known)}")
    return search


def check_auto(search: str, fusion: bool, augment) -> None:
    """Refuse ``--search auto`` with ``--fusion`` or ``--augment`` (never measured)."""
    if search == AUTO and (fusion or augment is not None):
        raise ValueError("--search auto is not supported with --fusion or --augment (not measured)")


def search_space(search: str) -> tuple[str, tuple[str, ...], bool]:
    """``(scaler, kernels, select_k)`` of a search (:data:`SEARCHES` or :data:`DESIGN_SEARCHES`)."""
    scaler, kernels, cols = _SEARCH_ALIASES.get(check_search(search), search).split("-")
    return scaler, tuple(kernels.split("+")), cols == "k"


def describe_search(search: str) -> str:
    """The SVM of a search in words, e.g. ``'RBF SVM (median / IQR scaled)'``."""
    scaler, kernels, _ = search_space(search)
    return ("RBF" if kernels == ("rbf",) else "RBF/linear") + " SVM" + \
        (" (median / IQR scaled)" if scaler == "robust" else "")


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
        return tuple(StatSelector(columns, **kw).fit(np.zeros((1, len(columns)))).get_support(indices=True).tolist())

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
    """``videos[columns]`` as a float matrix (n_videos, n_columns), infinities as NaN."""
    x = videos[columns].to_numpy(dtype=float)
    return np.where(np.isfinite(x), x, np.nan)


def fit_grid(x: np.ndarray, y: np.ndarray, groups: np.ndarray, columns: list[str], n_inner: int = 4,
             seed: int = 0, quick: bool = False, search: str = "full", n_jobs: int = 1,
             grid: list[dict] | None = None, refit: bool = True) -> GridSearchCV:
    """The grid search of :func:`make_pipeline` over :func:`param_grid` (or ``grid``) on
    ``x`` (n, len(columns)), labels ``y`` (1 = fake), scored by ROC AUC over ``n_inner``
    folds grouped by ``groups`` (fold seed ``seed``).  ``n_jobs``: parallel fits (the
    result does not depend on it).  Returns the fitted ``GridSearchCV``."""
    inner = ev.grouped_folds(groups, y, n_splits=n_inner, seed=seed)
    gs = GridSearchCV(make_pipeline(columns, search), grid or param_grid(x.shape[1], quick, columns, search),
                      scoring="roc_auc", cv=inner, n_jobs=n_jobs, refit=refit, error_score=np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gs.fit(x, y)
    return gs


def grid_search(videos: pd.DataFrame, columns: list[str], seed: int = 0, quick: bool = False, n_inner: int = 4,
                search: str = "full", n_jobs: int = 1) -> GridSearchCV:
    """:func:`fit_grid` on a table of videos (``label``, ``group`` and ``columns``; fewer
    than ``n_inner`` folds when there are fewer groups): every choice made on these
    (training) videos only."""
    g = videos["group"].astype(str).to_numpy()
    return fit_grid(feature_matrix(videos, columns), as_binary(videos["label"]), g, columns,
                    min(n_inner, len(np.unique(g))), seed, quick, search, n_jobs)


def decision(model, videos: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """A fitted estimator's decision values on ``videos[columns]``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.decision_function(feature_matrix(videos, columns))
