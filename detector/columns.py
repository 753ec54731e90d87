"""Feature column names: ``<family>_<measure>`` per frame, ``<...>__<statistic>`` per track.

Kept apart from :mod:`detector.features` (OpenCV, pandas) so that the estimators a model
file holds (:mod:`detector.estimators`) load without them, as in ``inspect``'s scoring
process (:mod:`detector.scoring`).
"""

from __future__ import annotations


def family_of(column: str) -> str:
    """Feature family of a per-frame or aggregated column name.

    >>> family_of("block_grid_ratio_inner_outer__mean")
    'block'
    """
    return column.split("_", 1)[0]
