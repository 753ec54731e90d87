"""The names of the inner search spaces (``train --search``), without scikit-learn: the CLI's
parser offers them, and :mod:`detector.search` (which imports scikit-learn) builds them."""

from __future__ import annotations

#: Search spaces of the inner grid search (``train --search``).  ``full``: standardised
#: columns (mean / sd), the ANOVA selection of the k best, an RBF or a linear SVM, and the
#: per-track statistics and families (:data:`detector.search.STAT_CHOICES`,
#: :data:`detector.search.FAMILY_CHOICES`).
#: ``compact``: columns centred on the median and scaled by the inter-quartile range
#: (``RobustScaler``: a few odd videos, such as a composited broadcast, do not set the
#: scale), every offered column, an RBF SVM: only C, gamma and the statistics / families
#: are searched.  With ~100 training videos the inner folds' noise picks among the
#: full grid's many near-equal points; the compact space has fewer of them (README,
#: "A smaller search").
SEARCHES = ("full", "compact")

#: ``train --search auto``: the search itself chosen among :data:`detector.search.DESIGN_SEARCHES` by a
#: nested grouped CV of the training data (:func:`detector.crossval.choose_search`): inside
#: every outer training part for the evaluation, on all videos for the shipped model.
AUTO = "auto"
#: What ``train --search`` and the benchmarks that run :func:`detector.crossval.nested_cv` accept.
SEARCH_CHOICES = (*SEARCHES, AUTO)
