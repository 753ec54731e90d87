"""The choice of training procedure by its worst condition, inside the training folds.

A procedure here is a column set offered to the search (:func:`detector.search.select_columns`)
trained with the platform copies of the training videos (:mod:`detector.degrade`).  Platform
videos were all re-encoded, so a procedure is judged by the **worst** of its AUCs on the
original videos and on each re-encoded condition of their copies, not by the originals'.

- :func:`condition_aucs` / :func:`worst_auc`: the per-condition AUCs of a
  :class:`detector.crossval.CVResult` with scored copies, and their minimum;
- :func:`choose_procedure`: the candidate whose nested grouped CV on a set of videos has the
  highest worst-condition AUC;
- :func:`nested_cv_by_worst`: outer grouped CV where every outer fold makes that choice on its
  own training part (and its copies) and is scored by the chosen procedure: the honest
  estimate of "choose by the worst case, then train".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import evaluation as ev
from .crossval import (CVResult, assemble, auc, check_mask, copies_of, empty_scores, nested_cv, outer_fold,
                       selection_seed)
from .metrics import as_binary
from .search import feature_matrix, select_columns

#: The condition name of the videos as they are.
ORIGINAL = "original"


@dataclass(frozen=True)
class ColumnsPicked:
    """A fitted model of a subset of the offered columns, scoring rows of all of them
    (so every outer fold's model of :func:`nested_cv_by_worst` reads the same matrix)."""

    model: object
    index: tuple[int, ...]

    def decision_function(self, x) -> np.ndarray:
        return self.model.decision_function(np.asarray(x)[:, list(self.index)])


@dataclass(frozen=True)
class Procedure:
    """A candidate training procedure: a column spec (:func:`detector.search.select_columns`)
    applied to the offered columns, trained with the training videos' platform copies."""

    name: str
    columns: str

    def columns_of(self, offered: list[str]) -> list[str]:
        """The offered columns this procedure keeps (ValueError when none)."""
        return select_columns(offered, self.columns)


#: The candidates of the worst-case choice: the 8x8-grid cue alone (strong on originals, what
#: a re-encode weakens), every track mean but that cue (measures above the codec's
#: quantisation), and both.
CANDIDATES = (
    Procedure("block-mean", "block-mean"),
    Procedure("means-but-block", r"^(?!block_).*__mean$"),
    Procedure("all-means", r"__mean$"),
)


def condition_aucs(cv: CVResult) -> dict[str, float]:
    """AUC (fake positive) of the out-of-fold scores of ``cv`` per condition: ``original``
    and each condition of its scored copies (``CVResult.copy_scores``); NaN where a class is
    missing."""
    out = {ORIGINAL: auc(cv.scores["label"], cv.scores["score"])}
    if cv.copy_scores is not None:
        for cond, d in cv.copy_scores.groupby("condition"):
            out[str(cond)] = auc(d["label"], d["score"])
    return {k: (np.nan if v is None else float(v)) for k, v in out.items()}


def worst_auc(aucs: dict[str, float]) -> float:
    """The lowest of the per-condition AUCs (NaN ignored; NaN when all are)."""
    vals = np.array(list(aucs.values()), float)
    return float(np.nanmin(vals)) if np.isfinite(vals).any() else np.nan


def choose_procedure(videos: pd.DataFrame, offered: list[str], copies: pd.DataFrame,
                     candidates: tuple[Procedure, ...] = CANDIDATES, seed: int = 0, n_outer: int = 3,
                     n_inner: int = 3, search: str = "compact",
                     n_jobs: int = 1) -> tuple[Procedure, dict[str, dict[str, float]]]:
    """The candidate with the highest worst-condition AUC in a nested grouped CV of
    ``videos`` (``n_outer`` x ``n_inner`` folds, fold seed ``seed``), each trained with the
    training videos' ``copies`` and scored on the held-out videos and their copies; ties
    go to the first.  Returns it and every candidate's per-condition AUCs (with ``worst``)."""
    if not candidates:
        raise ValueError("choose_procedure needs at least one candidate")
    found = {}
    for p in candidates:
        cv = nested_cv(videos, p.columns_of(offered), n_outer=n_outer, n_inner=n_inner, seed=seed,
                       log=lambda *a: None, search=search, n_jobs=n_jobs, augment=copies)
        aucs = condition_aucs(cv)
        found[p.name] = {**aucs, "worst": worst_auc(aucs)}
    best = max(candidates, key=lambda p: (np.nan_to_num(found[p.name]["worst"], nan=-1.0)))
    return best, found


def nested_cv_by_worst(videos: pd.DataFrame, offered: list[str], copies: pd.DataFrame,
                       candidates: tuple[Procedure, ...] = CANDIDATES, n_outer: int = 5, n_inner: int = 4,
                       seed: int = 0, search: str = "compact", n_jobs: int = 1,
                       train_mask: np.ndarray | None = None, log=print,
                       test_copies: pd.DataFrame | None = None) -> CVResult:
    """Outer grouped CV (``n_outer`` folds, fold seed ``seed``) of "choose the procedure by
    its worst condition, then train it": in each outer fold :func:`choose_procedure` runs
    on the training part alone (its videos where ``train_mask`` holds, and their copies;
    fold seed :func:`detector.crossval.selection_seed`), then the chosen procedure is
    trained there (inner search ``search``, ``n_inner`` folds, with the copies) and scores
    the held-out videos and their copies.  The fold's parameters name the procedure
    (``procedure``, ``procedure_aucs``); its model (:class:`ColumnsPicked`) reads the
    ``offered`` columns, whichever it chose.  ``test_copies``: more copies that are only
    scored, never trained on nor used to choose (as :func:`detector.crossval.nested_cv`'s)."""
    copies = copies_of(videos, copies)
    y = as_binary(videos["label"])
    g = videos["group"].astype(str).to_numpy()
    keep = check_mask(train_mask, len(videos))
    out, parts = empty_scores(videos), []
    for k, (tr, te) in enumerate(ev.grouped_folds(g, y, n_splits=n_outer, seed=seed)):
        tr = tr[keep[tr]]
        part = videos.iloc[tr].reset_index(drop=True)
        best, found = choose_procedure(part, offered, copies_of(part, copies), candidates,
                                       selection_seed(seed, k), search=search, n_jobs=n_jobs)
        cols = best.columns_of(offered)
        x = feature_matrix(videos, cols)
        fold = outer_fold(videos, x, y, g, k, tr, te, cols, copies, test_copies, n_inner, seed, False, False,
                          search, n_jobs, out, extra={"procedure": best.name, "procedure_aucs": found})
        fold.model = ColumnsPicked(fold.model, tuple(offered.index(c) for c in cols))
        parts.append(fold)
        log(f"  fold {k}: procedure {best.name} (worst inner AUC "
            + ", ".join(f"{n} {v['worst']:.3f}" for n, v in found.items()) + ")")
    return assemble(out, parts)
