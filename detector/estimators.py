"""The project's own scikit-learn estimators: a column selector by aggregate and family
(:class:`StatSelector`) and a late fusion of per-family SVMs (:class:`FamilyFusion`).

Both are saved inside model files (``model.skops``), so their import path and fitted
attributes are part of the file format: :mod:`detector.model` allows exactly these type
names.  Renaming or moving them means re-saving the shipped models.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.feature_selection import SelectorMixin

from .columns import family_of


class StatSelector(SelectorMixin, BaseEstimator):
    """Keep the aggregated columns whose statistic (the part after ``__``) is in ``stats``
    and whose feature family (the prefix before ``_``) is in ``families``.

    ``columns`` names the input columns in order; ``None`` keeps all.  Lets the grid
    search choose the per-track aggregation (mean only, mean + median, ...) and the
    feature families inside the training folds.  When no column qualifies, every column
    is kept.  A scikit-learn selector: ``get_support()`` and
    ``get_feature_names_out(columns)`` say what it keeps; missing values pass through.

    Fitted attributes: ``keep_`` (indices of the kept columns, ascending),
    ``n_features_in_``.
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

    def _get_support_mask(self) -> np.ndarray:
        mask = np.zeros(self.n_features_in_, dtype=bool)
        mask[self.keep_] = True
        return mask

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # it runs before the imputer
        return tags


class FamilyFusion(ClassifierMixin, BaseEstimator):
    """Late fusion of one SVM pipeline per feature family: the decision value is the
    mean of the members' decision values (each an SVM margin, so on one scale).

    ``estimators`` are unfitted pipelines (:func:`detector.search.make_pipeline` with
    their parameters set, each reading one family through its ``stats`` step);
    :meth:`fit` fits a clone of each on all columns.  Families that carry different
    traces (compression history, temporal flicker) err on different videos, so their
    average beats one SVM over all their columns on small data, where the joint model
    over-fits.

    Fitted attributes: ``estimators_``, ``keep_`` (indices of the input columns any
    member's ``stats`` step keeps; also :meth:`get_support`), ``reference_`` (training
    mean of every input column, for explanations), ``classes_``, ``n_features_in_``.
    """

    def __init__(self, estimators=None):
        self.estimators = estimators

    def fit(self, X, y):
        X = np.asarray(X, dtype=float)
        self.estimators_ = [clone(e).fit(X, y) for e in self.estimators]
        keep = set()
        for e in self.estimators_:
            keep.update(e.named_steps["stats"].get_support(indices=True).tolist())
        self.keep_ = np.array(sorted(keep), dtype=int)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.reference_ = np.nan_to_num(np.nanmean(X, axis=0))
        self.classes_ = np.unique(y)
        self.n_features_in_ = X.shape[1]
        return self

    def get_support(self, indices: bool = False) -> np.ndarray:
        """The input columns any member reads, as a mask of shape (n_features_in_,) or
        (``indices=True``) as ascending indices, like a selector's ``get_support``."""
        if indices:
            return self.keep_
        mask = np.zeros(self.n_features_in_, dtype=bool)
        mask[self.keep_] = True
        return mask

    def decision_function(self, X):
        X = np.asarray(X, dtype=float)
        return np.mean([e.decision_function(X) for e in self.estimators_], axis=0)

    def predict(self, X):
        return self.classes_[(self.decision_function(X) >= 0).astype(int)]
