"""The batch scanner's results for the Batch page: read (SQLite or CSV), typed, filtered, ranked."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from ..scan import display_paths, order_by_suspicion
from .texts import human_size
from .uploads import Source, check_upload, materialize

#: Suffixes (no dot) of a results file: the scanner's SQLite database or a CSV export.
RESULTS_TYPES = ("db", "sqlite", "sqlite3", "csv")
RESULT_COLUMNS = ("path", "verdict", "score", "llr", "threshold", "n_faces", "n_tracks", "duration_s", "size_bytes",
                  "sha256", "status", "error", "duplicate_of", "model_version", "finished_at", "codec", "caution")


class ResultsError(ValueError):
    """Batch results that cannot be read (one-line message)."""


def read_sqlite(p: str | os.PathLike, sql: str = "SELECT * FROM results", params: tuple = ()) -> pd.DataFrame:
    """A query of a SQLite file, read-only (``immutable`` when read-only fails, e.g. a WAL
    database in a folder this process cannot write); by default its table ``results``."""
    last: Exception | None = None
    for uri in (f"file:{p}?mode=ro", f"file:{p}?immutable=1"):
        try:
            with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10)) as con:
                return pd.read_sql_query(sql, con, params=params)
        except Exception as e:  # noqa: PERF203 - two attempts at most
            last = e
    raise last  # type: ignore[misc]


def load_results(path: str | os.PathLike) -> pd.DataFrame:
    """The batch scanner's results: SQLite (table ``results``) or CSV, one row per video.

    Raises
    ------
    ResultsError
        Missing or unreadable file, or no ``path`` column.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise ResultsError(f"no results file at {p}")
    try:
        df = pd.read_csv(p) if p.suffix.lower() == ".csv" else read_sqlite(p)
    except Exception as e:
        reason = (str(e).splitlines() or [type(e).__name__])[0]
        raise ResultsError(f"cannot read batch results from {p.name}: {reason}") from None
    return normalise_results(df)


def load_results_bytes(name: str, data: bytes) -> pd.DataFrame:
    """:func:`load_results` for an uploaded results file."""
    check_upload(name, len(data), types=RESULTS_TYPES)
    with materialize(Source(name, data)) as p:
        return load_results(p)


def normalise_results(df: pd.DataFrame) -> pd.DataFrame:
    """Typed columns (score numeric, verdict text; a failed file's verdict is ``error``),
    missing expected columns added."""
    if "path" not in df.columns:
        raise ResultsError(f"not batch results: no 'path' column (columns: {', '.join(map(str, df.columns[:8]))})")
    df = display_paths(df)
    for c in RESULT_COLUMNS:
        if c not in df.columns:
            df[c] = None
    df["score"] = pd.to_numeric(df["score"], errors="coerce")
    df["llr"] = pd.to_numeric(df["llr"], errors="coerce")
    failed = (df["status"].astype(str) == "failed") | (df["error"].notna() & (df["error"].astype(str).str.strip() != ""))
    verdict = df["verdict"].astype("object").where(df["verdict"].notna() & (df["verdict"].astype(str) != ""), None)
    fallback = pd.Series(np.where(failed, "error", "unknown"), index=df.index)
    df["verdict"] = verdict.where(verdict.notna(), fallback).astype(str)
    return df


def rank_suspects(df: pd.DataFrame, verdicts: list[str] | None = None, min_score: float | None = None,
                  text: str = "") -> pd.DataFrame:
    """Filter (verdict in ``verdicts``, score >= ``min_score``, ``text`` in path, case-insensitive)
    and rank as ``deepfake-detector report`` does (:func:`detector.scan.results.order_by_suspicion`:
    by score - threshold, most suspicious first, unscored rows last); ``rank`` numbers the rows shown."""
    out = df
    if verdicts:
        out = out[out["verdict"].isin(verdicts)]
    if min_score is not None:
        out = out[out["score"] >= min_score]
    if text.strip():
        out = out[out["path"].astype(str).str.contains(text.strip(), case=False, regex=False)]
    out = order_by_suspicion(out)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out


def results_threshold(df: pd.DataFrame) -> float | None:
    """The threshold the scan used (the most common one in the rows), if recorded."""
    t = pd.to_numeric(df["threshold"], errors="coerce").dropna()
    return float(t.mode().iloc[0]) if len(t) else None


def results_summary(df: pd.DataFrame) -> dict[str, int]:
    """Counts of videos per verdict (plus ``total``)."""
    counts = df["verdict"].value_counts().to_dict()
    return {"total": int(len(df)), **{str(k): int(v) for k, v in counts.items()}}


def suspects_display(df: pd.DataFrame) -> pd.DataFrame:
    """The ranked table with readable columns for display."""
    cols = ["rank", "path", "verdict", "score", "llr", "caution", "n_faces", "n_tracks", "duration_s", "size_bytes",
            "codec", "status", "error", "duplicate_of", "model_version", "finished_at"]
    out = df[[c for c in cols if c in df.columns]].copy()
    out = out.loc[:, [c for c in out.columns if c in ("rank", "path", "verdict", "score") or out[c].notna().any()]]
    if "size_bytes" in out:
        out["size_bytes"] = out["size_bytes"].map(lambda v: human_size(v) if pd.notna(v) else "—")
    if "caution" in out:  # most rows have none: blank, not "None"
        out["caution"] = out["caution"].where(out["caution"].notna(), "")
    return out.rename(columns={"llr": "log10 LR", "size_bytes": "size", "n_faces": "faces", "n_tracks": "tracks",
                               "duration_s": "duration (s)", "duplicate_of": "duplicate of",
                               "model_version": "model", "finished_at": "finished at"})
