"""Batch scanning: many videos into a resumable SQLite database, locally or on a Dask cluster.

``deepfake-detector scan INPUT... --out results.db`` and ``deepfake-detector report results.db``
(the commands are in :mod:`detector.cli`).  One module per stage, data flowing one way:

``discover``
    the inputs (folders, files, ``.txt``/``.csv`` lists) expanded into the files to scan;
    why a path cannot be analysed (missing, symlink loop, FIFO...).
``worker``
    :func:`scan_file`: one file analysed into the fields of its row, never raising for
    bad input; the same function for both pools.
``local_pool`` / ``dask_pool``
    worker processes on this machine (watched for memory, time and death) or an
    existing Dask cluster, behind one interface.
``db``
    the results database (one row per file and setting, one commit per finished file).
``run``
    :func:`scan`: resume, hashing, duplicates, dispatch to a pool, recording.
``results``
    the ranking of suspects (shared with the dashboard's Batch page), the report text,
    CSV/Parquet export.
"""

from __future__ import annotations

from .dask_pool import DaskPool, ScanError
from .db import ResultsDB, ScanLockedError, display_path, display_paths
from .discover import Discovery, discover, media_extensions, unscannable
from .local_pool import DEFAULT_MAX_MEMORY_MB, DEFAULT_TASKS_PER_WORKER, LocalPool
from .results import export, order_by_suspicion, ranked, ranked_rows, report_text
from .run import ScanSummary, model_setting, scan
from .worker import TEST_HOOK_ENV, scan_file

__all__ = ["scan", "ScanSummary", "ScanError", "model_setting", "discover", "Discovery", "media_extensions",
           "unscannable", "scan_file", "TEST_HOOK_ENV", "LocalPool", "DaskPool", "DEFAULT_MAX_MEMORY_MB",
           "DEFAULT_TASKS_PER_WORKER", "ResultsDB", "ScanLockedError", "display_path", "display_paths",
           "order_by_suspicion", "ranked", "ranked_rows", "report_text", "export"]
